# flinkplane: the two commands of the README.
#   make serve   set up (build, install Flink 1.20 and 2.2) and run the service on its defaults
#                (ADDR=HOST:PORT listens elsewhere: make serve ADDR=0.0.0.0:8080)
#   make test    set up everything the tests need and run them all (what CI runs)
# Settings are flags with FLINKPLANE_* environment variables (see README).

GO           ?= go
BIN          := bin/flinkplane
TESTFLAGS    ?= -race -count=1 -p 2 -timeout 35m

.PHONY: serve test setup build runtimes fixtures awscli postgres chromium lint bench clean

build:
	@echo "building $(BIN) (go build; the first build downloads Go modules and compiles them: a minute or two)"
	$(GO) build -o $(BIN) ./cmd/flinkplane

# Builds the binary and installs FLINK-1_20 and FLINK-2_2 with Maven (idempotent).
runtimes:
	./scripts/install-runtimes.sh

# The Java fixture applications (Maven), into testdata/apps/build/.
fixtures:
	./testdata/apps/build.sh

# The real aws CLI (pip, in a virtual environment under ~/.cache/flinkplane/awscli).
awscli:
	./scripts/install-awscli.sh >/dev/null

# PostgreSQL's server binaries (Debian's package) for the tests that start their own server.
postgres:
	./scripts/install-postgres.sh

setup: runtimes

serve: setup
	./$(BIN) serve $(if $(ADDR),--addr $(ADDR))

# Debian's Chromium, for the console's browser tests (apt-get; skipped when present).
chromium:
	./scripts/install-chromium.sh

lint:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# The same command CI runs (.ci/run).
test: setup fixtures awscli postgres chromium lint
	$(GO) test $(TESTFLAGS) ./...

bench: build
	./bench/run.sh

clean:
	rm -rf bin testdata/apps/build
