# wackamole - see README.md. Targets that touch network namespaces need root.
SHELL   := /bin/bash
GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# The tests and tools run "go" themselves: put the one found above first on
# PATH, also under sudo, which resets PATH.
export PATH := $(patsubst %/,%,$(dir $(GO))):$(PATH)
RUNS    ?= 5
MINUTES ?= 30
FAULT_RUNS  ?= 1
FAULT_TOOLS ?= wackamole-lan,wackamole-fast,wackamole-fast-rt,keepalived-1,keepalived-min
# Fuzz budgets are execution counts, not -fuzztime durations: Go 1.26's fuzz
# coordinator can fail a clean run with "context deadline exceeded" when a
# duration ends while a worker is mid-input (go.dev/issue/75804, fixed in
# Go 1.27). Each count is about 15 s on a 2-core machine; FUZZMULT scales them.
FUZZMULT ?= 1
fuzz_one = $(GO) test -run '^$$' -fuzz '^$(1)$$' -fuzztime $$(( $(2) * $(FUZZMULT) ))x $(3)

# Test logs go here (gitignored; make clean removes it).
OUT     := out
# The packages with tests that need root: those that call the gate of
# internal/testenv (RequireRoot, RequireNetns, RunIsolated). make unit runs
# them as whoever runs it, and the gate skips what needs root; make e2e
# runs them again with WACKAMOLE_E2E=1, where a missing prerequisite is a
# failure instead of a skip.
ROOT_PKGS = $(shell grep -rlE --include='*_test.go' --exclude-dir=.git --exclude-dir=$(OUT) \
	'testenv\.(RequireRoot|RequireNetns|RunIsolated)\b' . | xargs -n1 dirname | sort -u | grep -vx './pkg/e2e')

# Debian packages the lab, the tests and the demo use; lintian, man-db
# and zsh check the Debian package, its manual pages and completions.
APT_PKGS := iproute2 nftables iputils-ping tcpdump dnsmasq-base keepalived ucarp util-linux libcap2-bin bird2 frr exabgp curl \
	lintian man-db zsh systemd

.PHONY: all build test unit e2e lint fuzz bench bench-failover bench-compare bench-scale bench-floor soak demo deps clean deb package-test

all: build

## build: the daemon and wackatrl. wackalab, the lab tool, is a developer
## tool: the lab targets below run it with go run.
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ ./cmd/wackamole ./cmd/wackatrl ./cmd/wackamole-bgp

## test: everything CI runs: lint, unit tests (race detector on), fuzzers for a
## short while, and the end-to-end tests in network namespaces (root).
test: deps lint unit fuzz package-test e2e

## unit: every test but the end-to-end ones, race detector on, as any user:
## without root the tests that need it skip (they run in e2e).
unit:
	@mkdir -p $(OUT)
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /pkg/e2e) 2>&1 | tee $(OUT)/unit.log; test $${PIPESTATUS[0]} -eq 0

## e2e (root): the tests that need root, with the race detector, then the
## end-to-end tests; WACKAMOLE_E2E=1 makes a missing prerequisite a failure.
e2e:
	@mkdir -p $(OUT)
	WACKAMOLE_E2E=1 $(GO) test -race -count=1 $(ROOT_PKGS) 2>&1 | tee $(OUT)/root.log; test $${PIPESTATUS[0]} -eq 0
	WACKAMOLE_E2E=1 $(GO) test -count=1 -timeout 40m -v ./pkg/e2e/ 2>&1 | tee $(OUT)/e2e.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|outage|gap|lost' ; test $${PIPESTATUS[0]} -eq 0

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff

fuzz:
	$(call fuzz_one,FuzzParse,120000,./pkg/config/)
	$(call fuzz_one,FuzzMeta,120000,./membership/)
	$(call fuzz_one,FuzzShare,120000,./membership/)
	$(call fuzz_one,FuzzEnvelope,120000,./membership/)
	$(call fuzz_one,FuzzParseClaim,300000,./arp/)
	$(call fuzz_one,FuzzRequest,40000,./pkg/control/)
	$(call fuzz_one,FuzzOpen,150000,./membership/heartbeat/)
	$(call fuzz_one,FuzzUnmarshal,150000,./membership/heartbeat/)
	$(call fuzz_one,FuzzKeepalived,40000,./pkg/importer/)
	$(call fuzz_one,FuzzWackamole,40000,./pkg/importer/)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./vip/

bench-failover: deps
	$(GO) run ./pkg/internal/cmd/wackalab bench-failover -runs $(RUNS)

## bench-compare (root): failovers side by side with keepalived and ucarp,
## then the faults of the faults issue (stall, flapping port, starvation,
## cut path, 10 % loss; FAULT_RUNS each, about 3 minutes per run and tool),
## then the BGP section against ExaBGP; tables in out/bench-compare*.txt.
bench-compare: deps
	@mkdir -p $(OUT)
	$(GO) run ./pkg/internal/cmd/wackalab bench-compare -runs $(RUNS) -out $(OUT)/bench-compare.txt
	$(GO) run ./pkg/internal/cmd/wackalab bench-compare -runs $(FAULT_RUNS) -tools $(FAULT_TOOLS) -scenarios stall,flap,starve,cut,loss -out $(OUT)/bench-compare-faults.txt
	$(GO) run ./pkg/internal/cmd/wackalab bench-compare -bgp -runs $(RUNS) -out $(OUT)/bench-compare-bgp.txt

## bench-scale (root): groups of 3, 10, 25 and 50 nodes, one VIP each, lan
## (and fast up to 10 nodes): cold-start convergence, crash and graceful
## outage, idle CPU, memory and traffic per node, the heartbeats' O(N^2)
## share and the allocator's; the tables also go to out/bench-scale.txt.
bench-scale: deps
	@mkdir -p $(OUT)
	$(GO) run ./pkg/internal/cmd/wackalab bench-scale -runs $(RUNS) -out $(OUT)/bench-scale.txt

## bench-floor (root, a C compiler): the CPU a node's heartbeat work costs
## on this machine without Go, crypto or gossip (fast's 5 ms and lan's
## 200 ms): the floor under bench-scale's idle figures.
bench-floor: deps
	$(GO) run ./pkg/internal/cmd/wackalab bench-floor -interval 5ms
	$(GO) run ./pkg/internal/cmd/wackalab bench-floor -interval 200ms

soak: deps
	$(GO) run ./pkg/internal/cmd/wackalab soak -minutes $(MINUTES)

demo: deps
	$(GO) run ./pkg/internal/cmd/wackalab demo

## deb: the Debian package bin/wackamole_VERSION_ARCH.deb, made with nfpm
## from the repository alone (pkg/internal/cmd/mkdeb). The programs are
## position-independent, stripped and need no shared library.
deb:
	rm -rf bin/deb bin/wackamole_*.deb
	CGO_ENABLED=0 $(GO) build -trimpath -buildmode=pie -ldflags "-s -w $(LDFLAGS)" -o bin/deb/ ./cmd/wackamole ./cmd/wackatrl ./cmd/wackamole-bgp
	$(GO) run ./pkg/internal/cmd/mkdeb -bin bin/deb -out bin

## package-test: build the package, lintian it, install it on this machine,
## check what it installed, purge it (root; see the script for what it
## refuses to touch and how it cleans up).
package-test: deps deb
	bash pkg/internal/cmd/mkdeb/package-test.sh bin/wackamole_*.deb

## deps: install what is missing (Debian), and the Go modules. A
## policy-rc.d keeps the packages from starting their services (bird, frr,
## exabgp would run in the host's namespace; the tests run them in their
## own), and the services they enabled are disabled.
deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		policy=""; if [ ! -e /usr/sbin/policy-rc.d ]; then \
			printf '#!/bin/sh\n# installed by wackamole make deps: no package starts a service\nexit 101\n' > /usr/sbin/policy-rc.d; \
			chmod 755 /usr/sbin/policy-rc.d; policy=1; fi; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; rc=$$?; \
		if [ -n "$$policy" ]; then rm -f /usr/sbin/policy-rc.d; fi; \
		[ $$rc -eq 0 ] && \
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
	rm -rf bin $(OUT)
