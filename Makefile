# wackamole - see README.md. Targets that touch network namespaces need root.
SHELL   := /bin/bash
GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
RUNS    ?= 5
MINUTES ?= 30
FUZZTIME ?= 15s

# Debian packages the lab, the tests and the demo use.
APT_PKGS := iproute2 nftables iputils-ping tcpdump dnsmasq-base keepalived ucarp util-linux libcap2-bin

.PHONY: all build test unit e2e lint fuzz bench bench-failover bench-compare soak demo deps clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ ./cmd/...

## test: everything CI runs: lint, unit tests (race detector on), fuzzers for a
## short while, and the end-to-end tests in network namespaces (root).
test: deps lint unit fuzz e2e

unit:
	WACKAMOLE_E2E=1 $(GO) test -race -count=1 $$($(GO) list ./... | grep -v /pkg/e2e)

e2e:
	WACKAMOLE_E2E=1 $(GO) test -count=1 -timeout 40m -v ./pkg/e2e/ 2>&1 | tee e2e.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|outage|gap|lost' ; test $${PIPESTATUS[0]} -eq 0

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./pkg/config/
	$(GO) test -run '^$$' -fuzz '^FuzzMeta$$' -fuzztime $(FUZZTIME) ./membership/
	$(GO) test -run '^$$' -fuzz '^FuzzShare$$' -fuzztime $(FUZZTIME) ./membership/
	$(GO) test -run '^$$' -fuzz '^FuzzHeartbeat$$' -fuzztime $(FUZZTIME) ./membership/
	$(GO) test -run '^$$' -fuzz '^FuzzParseClaim$$' -fuzztime $(FUZZTIME) ./arp/
	$(GO) test -run '^$$' -fuzz '^FuzzRequest$$' -fuzztime $(FUZZTIME) ./pkg/control/

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./vip/

bench-failover: deps
	$(GO) run ./cmd/wackalab bench-failover -runs $(RUNS)

bench-compare: deps
	$(GO) run ./cmd/wackalab bench-compare -runs $(RUNS)

soak: deps
	$(GO) run ./cmd/wackalab soak -minutes $(MINUTES)

demo: deps
	$(GO) run ./cmd/wackalab demo

## deps: install what is missing (Debian), and the Go modules.
deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@$(GO) version >/dev/null || { echo "Go 1.26 is needed (https://go.dev/dl/)"; exit 1; }
	$(GO) mod download

clean:
	rm -rf bin e2e.log
