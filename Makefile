# The two commands a newcomer needs are `make run` and `make test`; both need only Go.
GO      ?= go
PKGS    := ./...
# The race detector needs cgo; a machine with Go and no C compiler runs without it.
RACE    ?= $(if $(filter 1,$(shell $(GO) env CGO_ENABLED)),-race,)

.PHONY: run test test-race bench build fmt vet lint lint-spec fuzz clean

## run: start the service on the embedded database (./data) with the built-in issuer.
## exec replaces the recipe's shell with the binary, so SIGTERM and Ctrl-C reach it
## (go run would leave the server running when make is stopped).
run: build
	exec ./bin/subaccountd

## test: vet, then every test; PostgreSQL too when TEST_DATABASE_URL is set
test: vet
	$(GO) test -count=1 $(RACE) $(PKGS)

## bench: the Go benchmarks, then a load run against a local server on PostgreSQL next to
## pgbench baselines; prints a table and records both in BENCHMARKS.md (speed is measured
## here, never asserted in tests)
bench:
	@out=$$(mktemp) && trap 'rm -f "$$out" "$$out.rc"' EXIT && \
	{ $(GO) test -run='^$$' -bench=. -benchmem -count=1 $(PKGS) 2>&1; echo $$? >"$$out.rc"; } | tee "$$out" && \
	test "$$(cat "$$out.rc")" = 0 && \
	$(GO) run ./cmd/subaccountload -out BENCHMARKS.md -gobench "$$out" $${TEST_DATABASE_URL:+-database-url "$$TEST_DATABASE_URL"}

## fuzz: fuzz the configuration parser for 30 seconds
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzCompile -fuzztime=1000000x ./policy/

build:
	$(GO) build -o bin/ ./cmd/...

fmt:
	gofmt -l -w .

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet $(PKGS)

## lint: staticcheck (fetched through the module proxy at a pinned version), then the spec
lint: vet lint-spec
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.6.1 $(PKGS)

## lint-spec: Redocly's linter on openapi.yaml, with redocly.yaml and its ignore file; it needs
## Node (npx) and takes the pinned CLI from the npm cache, reaching the registry only when the
## cache lacks it. .ci/run does not call it: CI runs `make test`, which needs only Go.
lint-spec:
	@command -v npx >/dev/null || { echo "lint-spec needs npx (Node.js) for @redocly/cli"; exit 1; }
	npx --prefer-offline -y @redocly/cli@2.77.0 lint openapi.yaml

clean:
	rm -rf bin data
