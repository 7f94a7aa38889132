# wackamole - see README.md. Targets that touch network namespaces need root.
SHELL   := /bin/bash
GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
RUNS    ?= 5
MINUTES ?= 30
# Fuzz budgets are execution counts, not -fuzztime durations: Go 1.26's fuzz
# coordinator can fail a clean run with "context deadline exceeded" when a
# duration ends while a worker is mid-input (go.dev/issue/75804, fixed in
# Go 1.27). Each count is about 15 s on a 2-core machine; FUZZMULT scales them.
FUZZMULT ?= 1
fuzz_one = $(GO) test -run '^$$' -fuzz '^$(1)$$' -fuzztime $$(( $(2) * $(FUZZMULT) ))x $(3)

# Debian packages the lab, the tests and the demo use. bird2, frr and exabgp
# are the routers of the BGP tests, run by pkg/internal/router inside
# namespaces; deps stops the host services their packages start.
APT_PKGS := iproute2 nftables iputils-ping tcpdump dnsmasq-base keepalived ucarp util-linux libcap2-bin bird2 frr exabgp

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
	$(call fuzz_one,FuzzParse,120000,./pkg/config/)
	$(call fuzz_one,FuzzMeta,120000,./membership/)
	$(call fuzz_one,FuzzShare,120000,./membership/)
	$(call fuzz_one,FuzzHeartbeat,120000,./membership/)
	$(call fuzz_one,FuzzParseClaim,300000,./arp/)
	$(call fuzz_one,FuzzRequest,40000,./pkg/control/)

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
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing && \
		for p in $$missing; do case $$p in bird2) s=bird;; frr|exabgp) s=$$p;; *) continue;; esac; \
			if [ -d /run/systemd/system ] && systemctl is-enabled --quiet $$s.service 2>/dev/null; then \
				echo "stopping $$s.service, started by its package: the tests run routers in namespaces only"; \
				systemctl disable --now $$s.service; \
			fi; \
		done; \
	fi
	@$(GO) version >/dev/null || { echo "Go 1.26 is needed (https://go.dev/dl/)"; exit 1; }
	$(GO) mod download

clean:
	rm -rf bin e2e.log
