# Makefile - the project's entry points. `make test` is what CI runs (.ci/run).
#
#   make test    set up the machine (scripts/test-setup.sh), go vet, gofmt check,
#                then the whole suite with the race detector
#   make setup   only scripts/test-setup.sh (PostgreSQL running, pgvector,
#                database hindsight_test)
#   make build   build bin/hindsight
#   make demo    go run ./cmd/hindsight demo
#   make bench   run every benchmark, no tests

GO ?= go

# Database the Go tests use. An HINDSIGHT_TEST_POSTGRES already in the
# environment (or given on the command line) wins; otherwise this default,
# which scripts/test-setup.sh prepares, is exported to the tests.
HINDSIGHT_TEST_POSTGRES ?= postgres://postgres@127.0.0.1:5432/hindsight_test?sslmode=disable
export HINDSIGHT_TEST_POSTGRES

# Go source files, skipping what the go tool skips (vendor, testdata, and
# directories starting with . or _), plus build and data output.
GO_FILES_CMD = find . -mindepth 1 -type d \( -name vendor -o -name testdata -o -name '.*' -o -name '_*' \
	-o -path ./bin -o -path ./hindsight-data \) -prune -o -type f -name '*.go' -print0

.PHONY: test setup vet fmtcheck build demo bench

test:
	bash scripts/test-setup.sh
	$(GO) vet ./...
	@$(MAKE) --no-print-directory fmtcheck
	$(GO) test -race -count=1 ./...

setup:
	bash scripts/test-setup.sh

vet:
	$(GO) vet ./...

fmtcheck:
	@unformatted=$$($(GO_FILES_CMD) | xargs -0 -r gofmt -l) || { echo "gofmt failed" >&2; exit 1; }; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files are not formatted (run gofmt -w on them):" >&2; \
		echo "$$unformatted" | sed 's/^/  /' >&2; \
		exit 1; \
	fi

build:
	$(GO) build -o bin/hindsight ./cmd/hindsight

demo:
	$(GO) run ./cmd/hindsight demo

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
