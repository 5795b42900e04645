# sesq — make targets. `make test` is what CI runs (.ci/run).
GO       ?= go
NPM      ?= npm
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The one build command; the Dockerfile runs the same.
BUILD     = CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)"
# A count, not a duration: duration-bound fuzzing in Go 1.26 now and then fails
# with a bare "context deadline exceeded" at the deadline, having found nothing
# (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 100000x

# OpenTofu, built from the Go module proxy (its go.mod has replace directives,
# so `go install pkg@version` refuses it: it is built in its module cache
# folder) into a cache outside the repository, so that it is built once.
TOFU_VERSION ?= v1.12.6
TOOLS_DIR    ?= $(HOME)/.cache/sesq-tools
TOFU          = $(TOOLS_DIR)/tofu-$(TOFU_VERSION)
# Helm, for the chart's checks, built the same way. Its release builds stamp
# the version and the Kubernetes version helm template assumes offline (1.N
# for its k8s.io/client-go v0.N); a plain build assumes 1.20.
HELM_VERSION ?= v3.22.0
HELM          = $(TOOLS_DIR)/helm-$(HELM_VERSION)

EMULATORS = localstack/node_modules/.installed

.PHONY: all build test guarantees vet fmt-check tf-fmt darwin demo demo-v2 deps tools fuzz bench bench-tenants bench-large bench-rate bench-profile bench-go clean

all: build

build:
	$(BUILD) -o bin/sesq ./cmd/sesq

# Pinned npm emulators (fauxqs, aws-ses-v2-local) from localstack/package-lock.json.
deps: $(EMULATORS)
$(EMULATORS): localstack/package.json localstack/package-lock.json
	$(NPM) ci --prefix localstack --no-audit --no-fund --loglevel=error
	touch $@

# Everything: format (Go and Terraform), vet, and every test (unit, fuzz seeds,
# end to end against the emulators, which the tests start themselves, and the
# deployment checks), with the race detector. A failure fails: nothing is run
# twice.
test: deps fmt-check tf-fmt vet darwin $(HELM)
	SESQ_TOFU=$(TOFU) SESQ_HELM=$(HELM) $(GO) test -race -count=1 ./...

tools: $(TOFU) $(HELM)
$(TOFU):
	@mkdir -p $(TOOLS_DIR)
	@echo "building OpenTofu $(TOFU_VERSION) into $(TOOLS_DIR) (once; takes minutes)"
	dir=$$($(GO) mod download -json github.com/opentofu/opentofu@$(TOFU_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	test -n "$$dir" && cd "$$dir" && GOFLAGS=-mod=mod $(GO) build -trimpath -o $@.tmp ./cmd/tofu && mv $@.tmp $@

$(HELM):
	@mkdir -p $(TOOLS_DIR)
	@echo "building Helm $(HELM_VERSION) into $(TOOLS_DIR) (once; takes a minute or two)"
	dir=$$($(GO) mod download -json helm.sh/helm/v3@$(HELM_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	test -n "$$dir" && cd "$$dir" && \
	k8s=$$(GOFLAGS=-mod=mod $(GO) list -m -f '{{.Version}}' k8s.io/client-go | cut -d. -f2) && \
	GOFLAGS=-mod=mod $(GO) build -trimpath -ldflags "-X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
		-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$$k8s -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$$k8s" \
		-o $@.tmp ./cmd/helm && mv $@.tmp $@

tf-fmt: $(TOFU)
	TF_CLI_CONFIG_FILE=/dev/null $(TOFU) fmt -check -diff -recursive terraform

vet:
	$(GO) vet ./...

# Most of us develop on macOS, which CI cannot run: everything, tests
# included, must at least compile and vet for it (OS-specific code sits
# behind build tags).
darwin:
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './localstack/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Starts the emulators, creates queues, runs the worker, enqueues the SES
# guide's examples plus one envelope that must be dead-lettered, shows where
# each landed and stops everything. DEMO_FLAGS=-keep leaves it running.
demo: deps build
	$(GO) run ./internal/demo -sesq bin/sesq $(DEMO_FLAGS)

# The same with the SES v2 API transport (SESQ_TRANSPORT=api-v2), plus a
# templated envelope and one sent under an SES tenant.
demo-v2: deps build
	$(GO) run ./internal/demo -sesq bin/sesq -transport api-v2 $(DEMO_FLAGS)

# The fault and hostile-input tests again, printing their counts (lost,
# dead-lettered without a send, wrong reason, duplicated) as README's
# Guarantees section quotes them.
GUARANTEES = TestKill9MidRunLosesNothing|TestSIGTERMUnderLoad|TestSQSOutage|TestDeadLetterQueueOutage|TestLostReceiveAnswers|TestConsoleRedriveStartsAfresh|TestRegionOutageIsIsolated|TestNothingLostInAMixedRun|TestHostileEnvelopes|TestHostileEnvelopesAreDeadLettered|TestDuplicateEnvelopeIsSentOnce
guarantees: deps
	@$(GO) test -count=1 -v -run '^($(GUARANTEES))$$' ./cmd/sesq/ ./worker/ ./envelope/ > .guarantees.log 2>&1; rc=$$?; \
	grep -E '(lost|duplicated) [0-9]|hostile envelopes|during the outage|^--- |^(ok|FAIL)' .guarantees.log | sed 's/^ *//'; \
	rm -f .guarantees.log; exit $$rc

# Each fuzz target for FUZZTIME.
fuzz:
	$(GO) test ./envelope/ -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./envelope/ -run '^$$' -fuzz '^FuzzScanHeaders$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./envelope/ -run '^$$' -fuzz '^FuzzParseIdentityARN$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./envelope/ -run '^$$' -fuzz '^FuzzDuplicateKeyScan$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./internal/ledger/ -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./payload/ -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./internal/telemetry/ -run '^$$' -fuzz '^FuzzParseXRay$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s

# The benchmark harness in ../shared/bench (see its README) against sesq and
# the peers in the same run: backlog 20 000, SES latency 50 ms, concurrency 32;
# then bench-tenants.
BENCH       ?= ../shared/bench
BENCH_FLAGS ?= -runs 3
bench: build
	$(GO) run -C $(BENCH) . -worker "sesq=$(CURDIR)/bin/sesq run" -peer sqs-consumer -peer naive-go -n-for naive-go=3000 \
		-env SESQ_HTTP_ADDR= $(BENCH_FLAGS)
	$(MAKE) --no-print-directory bench-tenants
	$(MAKE) --no-print-directory bench-large

# Memory for large messages (internal/benchtools/largemem): 32 envelopes of
# an 8 MB raw message from S3 with 32 senders, SESQ_PAYLOAD_FETCHES 4 and
# 32; the worker's peak RSS.
bench-large: deps build
	$(GO) run ./internal/benchtools/largemem -sesq $(CURDIR)/bin/sesq

# Tenants, lanes and FIFO (internal/benchtools/tenants; docs/performance.md):
# rate control with 1, 2 and 4 workers against one 200/s account, a noisy
# tenant without and with fair sharing and with lanes, FIFO order under
# transient faults. About 14 minutes; JSON lines in bin/bench-tenants/.
# BENCH_TENANTS_FLAGS="-scenarios noisy-a -bulk 2000 -quiet-for 10s" for a
# short run.
BENCH_TENANTS_FLAGS ?=
bench-tenants: deps build
	$(GO) run ./internal/benchtools/tenants -sesq $(CURDIR)/bin/sesq $(BENCH_TENANTS_FLAGS)

# Rate control against an account limit of 200/s, one worker and two at once,
# and concurrency 256 beside the emulator's own ceiling.
bench-rate: build
	$(GO) run -C $(BENCH) . -ses-max-rate 200 -runs 1 -env SESQ_HTTP_ADDR= \
		-worker "sesq=$(CURDIR)/bin/sesq run" -worker "sesq-x2=$(CURDIR)/internal/benchtools/two-workers.sh $(CURDIR)/bin/sesq"
	$(GO) run -C $(BENCH) . -concurrency 256 -runs 1 -env SESQ_HTTP_ADDR= -worker "sesq=$(CURDIR)/bin/sesq run"
	$(GO) run -C $(BENCH) . -mode ceiling -n 20000 -runs 1

# One benchmark run of a binary that writes CPU and allocation profiles
# (built with -tags profile; see cmd/sesq/profile.go).
bench-profile:
	$(GO) build -tags profile -o bin/sesq-profile ./cmd/sesq
	$(GO) run -C $(BENCH) . -runs 1 -env SESQ_HTTP_ADDR= -env SESQ_CPUPROFILE=$(CURDIR)/bin/cpu.prof \
		-env SESQ_MEMPROFILE=$(CURDIR)/bin/allocs.prof -worker "sesq=$(CURDIR)/bin/sesq-profile run" $(BENCH_FLAGS)
	@echo "then: go tool pprof -top -cum bin/sesq-profile bin/cpu.prof"

# Go micro-benchmarks of the hot pure code (decoding, validation, header scan).
bench-go: deps
	$(GO) test ./envelope/ ./worker/ -run '^$$' -bench . -benchmem

clean:
	rm -rf bin
