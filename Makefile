# csms-operator Makefile. Tools are pinned and built from the Go module proxy into ./bin.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

IMG ?= csms-operator:latest
LOCALBIN ?= $(CURDIR)/bin
GOBIN_ENV := GOBIN=$(LOCALBIN)

## Tool versions (pinned)
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0
KUSTOMIZE_VERSION ?= v5.7.1
HELM_VERSION ?= v3.22.0

CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)

# Packages tested by `make test` (unit + envtest). e2e and bench have their own targets.
TEST_PKGS ?= ./...
GO_TEST_FLAGS ?= -race -count=1

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs and RBAC from the markers in the Go code.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="./api/..." paths="./internal/controller/..." paths="./internal/provider/..." output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=manager-targets-role paths="./internal/target/..." output:rbac:artifacts:config=config/rbac/targets

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run gofmt on the code.
	gofmt -w $$(git ls-files -co --exclude-standard -- '*.go')

.PHONY: fmt-check
fmt-check: ## Fail when gofmt would change a file.
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard -- '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

.PHONY: vet
vet: ## Run go vet.
	go vet ./...
	if [ -d test ]; then go vet -tags e2e ./test/...; fi

.PHONY: lint
lint: golangci-lint ## Run golangci-lint.
	$(GOLANGCI_LINT) run ./...

.PHONY: verify-gen
verify-gen: manifests generate helm-sync api-docs ## Fail when generate/manifests (or the chart's and docs' copies of them) would change the tree.
	@if [ -n "$$(git status --porcelain -- api config charts docs/api-reference.md)" ]; then \
	  echo "generated files are out of date; run 'make manifests generate helm-sync api-docs' and commit:"; \
	  git status --porcelain -- api config charts docs/api-reference.md; git --no-pager diff --stat -- api config charts docs/api-reference.md; exit 1; fi

.PHONY: envtest
envtest: ## Build (once) the envtest kube-apiserver and etcd into bin/k8s.
	@hack/setup-envtest.sh >/dev/null

.PHONY: test
test: verify-gen fmt-check vet envtest ## Unit and envtest integration tests, with -race.
	KUBEBUILDER_ASSETS="$$(hack/setup-envtest.sh 2>/dev/null | tail -1)" go test $(GO_TEST_FLAGS) $(TEST_PKGS)

##@ Build

.PHONY: build
build: ## Build the manager and the emulator into bin/.
	go build -o $(LOCALBIN)/manager ./cmd/manager
	go build -o $(LOCALBIN)/csms-emulator ./cmd/csms-emulator

.PHONY: run
run: manifests generate ## Run the manager against the cluster of the current kubeconfig.
	go run ./cmd/manager

# The container engine: empty lets hack/image/engine.sh choose (docker when its engine
# answers, else podman). podman reads only CONTAINERS_CONF, by default the project's
# hack/image/containers.conf (settings these sandboxed machines need); the machine's
# /etc/containers is never edited.
CONTAINER_TOOL ?=
CONTAINERS_CONF ?= $(CURDIR)/hack/image/containers.conf
IMAGE_ENV = CONTAINER_TOOL="$(CONTAINER_TOOL)" CONTAINERS_CONF="$(CONTAINERS_CONF)"
# The images the Dockerfile starts from. "local" builds stand-ins from this machine's Go
# toolchain and files (no registry needed, see hack/image/build.sh); "" uses the
# Dockerfile's defaults (golang, gcr.io/distroless/static:nonroot), or name any image.
BUILDER_IMAGE ?= local
BASE_IMAGE ?= local

.PHONY: docker-build
docker-build: ## Build the manager image IMG from the Dockerfile (podman, or docker where an engine runs).
	$(IMAGE_ENV) IMG="$(IMG)" BUILDER_IMAGE="$(BUILDER_IMAGE)" BASE_IMAGE="$(BASE_IMAGE)" hack/image/build.sh

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN):
	@mkdir -p $(LOCALBIN)
	$(GOBIN_ENV) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/controller-gen $@

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT)
$(GOLANGCI_LINT):
	@mkdir -p $(LOCALBIN)
	$(GOBIN_ENV) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(LOCALBIN)/golangci-lint $@

##@ Demo and end-to-end tests

# DEMO_KEEP=1 keeps the demo environment running until Ctrl-C.
DEMO_KEEP ?=
DEMO_FLAGS ?=

.PHONY: demo
demo: envtest ## Start control plane + emulator + manager, apply config/samples/demo, show them converge, stop.
	go build -o $(LOCALBIN)/demo ./hack/demo
	$(LOCALBIN)/demo $(if $(DEMO_KEEP),--keep) $(DEMO_FLAGS)

.PHONY: dev
dev: ## Like `make demo DEMO_KEEP=1`: keep it running and print the KUBECONFIG; Ctrl-C stops it.
	$(MAKE) demo DEMO_KEEP=1

E2E_FLAGS ?= -count=1 -v -timeout 20m

.PHONY: test-e2e
test-e2e: envtest kustomize ## e2e tests: config/default on envtest, the manager as its ServiceAccount, the emulator.
	KUBEBUILDER_ASSETS="$$(hack/setup-envtest.sh 2>/dev/null | tail -1)" KUSTOMIZE=$(KUSTOMIZE) \
	  go test -tags e2e $(E2E_FLAGS) ./test/e2e/...

.PHONY: test-e2e-image
test-e2e-image: envtest kustomize ## The e2e tests with the manager inside the image IMG as a container (built when missing).
	@engine="$$($(IMAGE_ENV) hack/image/engine.sh)"; \
	if rev="$$($(IMAGE_ENV) $$engine image inspect --format '{{index .Config.Labels "org.opencontainers.image.revision"}}' "$(IMG)" 2>/dev/null)"; then \
	  echo "test-e2e-image: using the existing image $(IMG) (revision $$rev; HEAD is $$(git rev-parse HEAD 2>/dev/null)); make docker-build IMG=$(IMG) rebuilds it"; \
	else \
	  echo "test-e2e-image: $(IMG) does not exist; building it"; \
	  $(MAKE) --no-print-directory docker-build IMG="$(IMG)"; \
	fi
	$(IMAGE_ENV) E2E_MANAGER_IMAGE="$(IMG)" E2E_CONTAINER_TOOL="$$($(IMAGE_ENV) hack/image/engine.sh)" \
	  KUBEBUILDER_ASSETS="$$(hack/setup-envtest.sh 2>/dev/null | tail -1)" KUSTOMIZE=$(KUSTOMIZE) \
	  go test -tags e2e $(E2E_FLAGS) ./test/e2e/...

# The CSMS account test-contract uses; without all five it skips (and says so).
CONTRACT_ENV := CSMS_ENDPOINT CSMS_REGION CSMS_PROJECT_ID HUAWEICLOUD_SDK_AK HUAWEICLOUD_SDK_SK

.PHONY: test-contract
test-contract: ## The CSMS client against a real endpoint (needs CSMS_ENDPOINT, CSMS_REGION, CSMS_PROJECT_ID, HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK).
	@missing=""; for v in $(CONTRACT_ENV); do [ -n "$${!v:-}" ] || missing="$$missing $$v"; done; \
	if [ -n "$$missing" ]; then echo "test-contract: SKIPPED, not set:$$missing (see docs/contract-tests.md)"; fi
	go test -tags contract -count=1 -v -run '^TestContract' ./internal/csms/...

##@ Deployment

KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
HELM ?= $(LOCALBIN)/helm-$(HELM_VERSION)
CHART_DIR ?= charts/csms-operator

.PHONY: build-installer
build-installer: manifests kustomize ## Render config/default with IMG into dist/install.yaml.
	@rm -rf dist/.installer && mkdir -p dist/.installer
	@printf 'resources:\n- ../../config/default\n' > dist/.installer/kustomization.yaml
	cd dist/.installer && $(KUSTOMIZE) edit set image csms-operator=$(IMG)
	$(KUSTOMIZE) build dist/.installer > dist/install.yaml
	@rm -rf dist/.installer
	@echo "wrote dist/install.yaml (image $(IMG))"

.PHONY: helm-sync
helm-sync: ## Copy the generated CRDs, the manager ClusterRole and the Grafana dashboard into the Helm chart.
	@mkdir -p $(CHART_DIR)/crds $(CHART_DIR)/files
	rm -f $(CHART_DIR)/crds/*.yaml
	cp config/crd/bases/*.yaml $(CHART_DIR)/crds/
	cp config/rbac/role.yaml $(CHART_DIR)/files/manager-role.yaml
	cp config/rbac/targets/role.yaml $(CHART_DIR)/files/manager-targets-role.yaml
	cp config/grafana/csms-operator.json $(CHART_DIR)/files/grafana-dashboard.json

.PHONY: helm-lint
helm-lint: helm kustomize ## helm lint + template the chart, and check it matches config/default (CRDs, RBAC, args).
	$(HELM) lint --strict $(CHART_DIR)
	HELM=$(HELM) KUSTOMIZE=$(KUSTOMIZE) hack/verify-helm.sh

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Build kustomize into bin/.
$(KUSTOMIZE):
	@mkdir -p $(LOCALBIN)/.tmp-kustomize
	GOBIN=$(LOCALBIN)/.tmp-kustomize go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	mv $(LOCALBIN)/.tmp-kustomize/kustomize $@ && rmdir $(LOCALBIN)/.tmp-kustomize

.PHONY: helm
helm: $(HELM) ## Build helm into bin/.
$(HELM):
	@mkdir -p $(LOCALBIN)/.tmp-helm
	GOBIN=$(LOCALBIN)/.tmp-helm go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mv $(LOCALBIN)/.tmp-helm/helm $@ && rmdir $(LOCALBIN)/.tmp-helm

##@ Benchmark

BENCH_N ?= 1000
BENCH_QPS ?= 100
BENCH_FLAGS ?=

.PHONY: bench
bench: envtest ## Benchmark N ManagedSecrets at Q req/s (BENCH_N=1000 BENCH_QPS=100); table + .local/bench/{result.json,ready.svg}.
	go run ./test/bench/cmd/bench -n $(BENCH_N) -qps $(BENCH_QPS) $(BENCH_FLAGS)

.PHONY: bench-smoke
bench-smoke: envtest ## Quick benchmark (N=50, 10 with a target) so the harness cannot rot; writes .local/bench-smoke/result.json.
	go run ./test/bench/cmd/bench -n 50 -qps $(BENCH_QPS) -source-updates 20 -targets 10 -target-lead 10s -restart-changes 5 -dir .local/bench-smoke -timeout 10m

.PHONY: bench-failover
bench-failover: envtest ## Leader failover after SIGKILL/SIGTERM of the leader, default and short leases; .local/bench-failover/failover.json.
	go run ./test/bench/cmd/bench -failover $(BENCH_FLAGS)

##@ Documentation

.PHONY: api-docs
api-docs: manifests ## Regenerate docs/api-reference.md from the CRDs and api/v1alpha1/conditions.go.
	go run ./hack/gen-api-docs

.PHONY: verify-api-docs
verify-api-docs: ## Fail when docs/api-reference.md is out of date (also a test of `make test`).
	go test -count=1 -run 'TestAPIReferenceUpToDate' ./hack/gen-api-docs/
