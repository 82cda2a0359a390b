# iocpipe: `make demo` shows it working, `make test` checks it.
# Needs only Go (and a POSIX shell with sed).

GO        ?= go
BIN       := bin/iocpipe
DEMO      := .demo
FUZZTIME  ?= 10m
# Count-based in make test: a duration-based -fuzztime can fail with a bare
# "context deadline exceeded" in Go 1.26 (golang/go#75804).
TESTFUZZ  ?= 3000x
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: build test demo bench lint fuzz crash-test hostile clean postgres cluster-demo

build:
	$(GO) build -o $(BIN) ./cmd/iocpipe

# Unit, golden, integration and crash tests, then a short run of every fuzz
# target (a long one is `make fuzz`).
# The PostgreSQL ledger's tests start a private server
# (pipeline/ledger/pgtest/postgres.sh) from Debian's postgresql package:
# installed here when its binaries are missing (sudo unless root).
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
postgres:
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing Debian's postgresql (the PostgreSQL ledger's tests run a private server)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; }

test: postgres
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -race -short ./...
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(TESTFUZZ)

# Every fuzz target for FUZZTIME each (10 minutes unless told otherwise).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run NONE -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg > $(or $(TMPDIR),/tmp)/iocpipe-fuzz.log 2>&1 || { cat $(or $(TMPDIR),/tmp)/iocpipe-fuzz.log; exit 1; }; \
	    tail -n 1 $(or $(TMPDIR),/tmp)/iocpipe-fuzz.log; \
	  done; \
	done

# The one-shot import on the embedded default: start the emulators, import
# testdata/inputs/, print the summary, stop the emulators.
demo: build
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	@$(BIN) emulate --addr 127.0.0.1:0 > $(DEMO)/emulate.log 2>&1 & echo $$! > $(DEMO)/emulate.pid
	@for i in $$(seq 1 100); do grep -q '^listening on' $(DEMO)/emulate.log && break; sleep 0.1; done
	@url=$$(sed -n 's/^listening on //p' $(DEMO)/emulate.log); \
	  test -n "$$url" || { cat $(DEMO)/emulate.log; kill $$(cat $(DEMO)/emulate.pid); exit 1; }; \
	  sed "s#__URL__#$$url#" testdata/demo.yaml > $(DEMO)/config.yaml; \
	  echo "emulators on $$url (config: $(DEMO)/config.yaml)"; \
	  echo; echo "== TruSTAR: iocpipe run --config $(DEMO)/config.yaml --route feeds testdata/inputs/"; \
	  TRUSTAR_API_KEY=demo TRUSTAR_API_SECRET=demo $(BIN) run --config $(DEMO)/config.yaml --route feeds \
	    --report $(DEMO)/report.json testdata/inputs/; code=$$?; \
	  echo; echo "== exit code $$code (0: all delivered; 3: delivered, but the rows listed above were rejected)"; \
	  echo; echo "== ThreatWinds: iocpipe run --config $(DEMO)/config.yaml --route threatwinds testdata/inputs/stix21-bundle.json"; \
	  THREATWINDS_API_KEY=reporter THREATWINDS_API_SECRET=reporter $(BIN) run --config $(DEMO)/config.yaml --route threatwinds \
	    --rejects $(DEMO)/threatwinds-rejects.jsonl testdata/inputs/stix21-bundle.json; twcode=$$?; \
	  echo; echo "== exit code $$twcode (rejects and skipped STIX objects with their reasons: $(DEMO)/threatwinds-rejects.jsonl)"; \
	  echo; echo "== TAXII: iocpipe run --config $(DEMO)/config.yaml --route taxii (polls the emulator's demo collection once)"; \
	  TRUSTAR_API_KEY=demo TRUSTAR_API_SECRET=demo TAXII_USERNAME=demo TAXII_PASSWORD=demo $(BIN) run --config $(DEMO)/config.yaml \
	    --route taxii --report $(DEMO)/taxii-report.json; txcode=$$?; \
	  echo; echo "== exit code $$txcode (each page is named taxii:taxii:<collection id>:<date_added range> in $(DEMO)/taxii-report.json)"; \
	  kill $$(cat $(DEMO)/emulate.pid); \
	  test $$code -eq 0 -o $$code -eq 3 && test $$twcode -eq 0 -o $$twcode -eq 3 && test $$txcode -eq 0 -o $$txcode -eq 3

bench:
	$(GO) run ./cmd/iocbench
	$(GO) run ./cmd/iocbench stix --mb 200

# 20 rounds of kill -9 and restart of `iocpipe watch` during a 100,000-row
# import (make test runs 3).
crash-test:
	IOCPIPE_CRASH_ROUNDS=20 $(GO) test -count=1 -timeout 20m -v -run '^TestCrashKill$$' ./cmd/iocpipe

# The memory cases of issue 11 at full size (a 5 GB line, a 200 MB JSON
# string, a 50 MB CSV field), generated in a temporary folder: iocpipe run
# and inspect on each, as processes against `iocpipe emulate`, fail above
# 150 MiB peak RSS. make test runs them smaller (TestHostileMemory).
hostile:
	IOCPIPE_HOSTILE_FULL=1 $(GO) test -count=1 -timeout 30m -v -run '^TestHostileMemory$$' ./cmd/iocpipe

# Several instances on one inbox: PostgreSQL (a private server, as the
# tests run it), the TruSTAR emulator (60 calls a minute per client id, as
# the API) and three `iocpipe watch` sharing the inbox and the quota; drops
# 300 files, kills one instance with SIGKILL half-way, and prints per
# instance what it imported and the emulator's count of distinct rows
# (equal to the rows dropped). Flags: go run ./cmd/iocbench cluster -h.
cluster-demo: postgres
	$(GO) run ./cmd/iocbench cluster

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

clean:
	rm -rf bin $(DEMO)
