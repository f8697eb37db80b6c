# Trunkline. `make test` is what CI runs (.ci/run) and what the README promises.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO        ?= go
FUZZTIME  ?= 20s
RUN_ARGS  ?=

.PHONY: build run test peers fmt-check vet e2e fuzz bench clean

build:
	CGO_ENABLED=0 $(GO) build -o bin/trunkline ./cmd/trunkline

run:
	$(GO) run ./cmd/trunkline $(RUN_ARGS)

# Everything, on a fresh Debian machine: peers, formatting, vet, all tests with the race
# detector (unit, integration and test/e2e against SIPp and baresip).
# (Sequential on purpose, also under make -j.)
test:
	scripts/install-peers.sh
	$(MAKE) --no-print-directory fmt-check
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

peers:
	scripts/install-peers.sh

fmt-check:
	@files=$$(find . -name '*.go' -not -path './.git/*' -not -path './bin/*' -print0 | xargs -0 -r gofmt -l); \
	if [ -n "$$files" ]; then echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$files"; exit 1; fi

vet:
	$(GO) vet ./...

# Only the end-to-end tests: make e2e RUN=TestCallRTP
e2e:
	$(GO) test -race -count=1 -timeout 20m $(if $(RUN),-run '$(RUN)') -v ./test/e2e/

# Runs every FuzzXxx target for $(FUZZTIME) each.
fuzz:
	@found=0; \
	for dir in $$(grep -rl --include='*_test.go' -E '^func Fuzz[A-Z0-9_]' . | xargs -r -n1 dirname | sort -u); do \
		for fn in $$(grep -h -o -E '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go | sed 's/^func //' | sort -u); do \
			found=1; echo "== $$dir $$fn ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$dir; \
		done; \
	done; \
	if [ $$found = 0 ]; then echo "no fuzz targets found"; fi

# Load benchmarks against peers (SIPp, Kamailio, rtpengine) plus the Go micro-benchmarks;
# not part of `make test`. Installs what it needs (apt, as root). ~25-30 min at the defaults;
# knobs are environment variables (docs/benchmarks.md): make bench USERS=100000,
# make bench QUICK=1 (harness check), make bench PHASES="micro p1".
bench:
	USERS='$(USERS)' QUICK='$(QUICK)' PHASES='$(PHASES)' bench/run.sh

clean:
	rm -rf bin
