# token-operator Makefile (kubebuilder style). `make help` lists the targets.

# Versions are pinned; tools install into ./bin with `go install` from the Go module proxy.
KUBE_VERSION ?= v1.37.2
CONTROLLER_TOOLS_VERSION ?= v0.23.0
STATICCHECK_VERSION ?= v0.8.2
HELM_VERSION ?= v3.22.0

# The test control plane (kube-apiserver, etcd, kubectl) is built once into a cache outside the repo.
CONTROL_PLANE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/token-operator/k8s-$(KUBE_VERSION)
export CONTROL_PLANE_DIR
export KUBEBUILDER_ASSETS = $(CONTROL_PLANE_DIR)
# The test node (kubelet, kube-controller-manager, kube-scheduler, kube-proxy, containerd, CNI
# plugins, CoreDNS; docs/node.md) is built once into a cache beside it; test/node finds it here.
NODE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/token-operator/node-$(KUBE_VERSION)
export NODE_DIR

LOCALBIN ?= $(shell pwd)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
STATICCHECK ?= $(LOCALBIN)/staticcheck-$(STATICCHECK_VERSION)
HELM ?= $(LOCALBIN)/helm-$(HELM_VERSION)
CRD_REF_DOCS_VERSION ?= v0.3.0
CRD_REF_DOCS ?= $(LOCALBIN)/crd-ref-docs-$(CRD_REF_DOCS_VERSION)
# Tests that run helm (test/helm, test/e2e) find it through $HELM.
export HELM

# -timeout 20m: test/node (a real node, two rotations on the kubelet's clock) takes 6-8 min on its
# own, near go test's default 10m per package when the host is busy (docs/node.md).
GO_TEST_FLAGS ?= -count=1 -timeout 20m
SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs and RBAC from the API types and markers.
	$(CONTROLLER_GEN) rbac:roleName=token-operator-manager crd paths="./..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	rm -f charts/token-operator/crds/*.yaml && cp config/crd/bases/*.yaml charts/token-operator/crds/
	cp config/rbac/role.yaml charts/token-operator/files/role.yaml

.PHONY: generate
generate: controller-gen crd-ref-docs ## Generate DeepCopy methods, the API reference (docs/api-reference.md) and the Argo CD health checks (config/argocd from hack/argocd).
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."
	$(CRD_REF_DOCS) --source-path=./api/v1alpha1 --config=hack/api-docs/config.yaml --renderer=markdown --output-path=docs/api-reference.md --log-level=ERROR
	go run ./hack/argocd

.PHONY: dev
dev: control-plane build ## Run the whole product locally: control plane, token engine, manager (state in .dev/).
	$(LOCALBIN)/token-operator dev --state-dir .dev

.PHONY: fmt
fmt: ## Run gofmt.
	gofmt -s -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: staticcheck ## Run staticcheck.
	$(STATICCHECK) ./...

.PHONY: test
test: manifests generate control-plane node helm image ## Run unit, envtest and e2e tests against the real control plane (and a real node: test/node).
	go test $(GO_TEST_FLAGS) ./...

# -v: the macro benchmark's log (rounds, ratios, CPU per token) streams whole; without it the
# testing package cuts each benchmark's log at 10 lines.
.PHONY: bench
bench: control-plane ## Run the micro benchmarks and the macro benchmark at 1,000 tokens (ratios against baselines measured in the same run).
	go test -run '^$$' -bench . -benchmem $$(go list ./... | grep -v /test/bench)
	go test -v -run '^$$' -bench . -benchtime=1x -timeout 30m ./test/bench/

.PHONY: bench-full
bench-full: control-plane ## Run the macro benchmark at the issue's size: 10,000 tokens and 1,000 unrelated 100 KiB Secrets (long).
	BENCH_FULL=1 go test -v -run '^$$' -bench . -benchtime=1x -timeout 120m ./test/bench/

.PHONY: chaos
chaos: control-plane ## Run the kill-storm and leader-handover tests at full size (300 tokens; CHAOS_SEED=<n> replays a run).
	CHAOS_SIZE=full go test -count=1 -v -timeout 30m -run 'TestKillStorm|TestLeaderHandover' ./test/chaos/

.PHONY: verify
verify: manifests generate ## Fail if generated files are stale, go.mod is untidy, or vet/lint/gofmt complain.
	go mod tidy
	@if [ -n "$$(git status --porcelain -- config charts/token-operator/crds charts/token-operator/files api docs/api-reference.md go.mod go.sum)" ]; then \
		echo "verify: generated files or go.mod/go.sum are stale; run 'make manifests generate' and 'go mod tidy' and commit:"; \
		git status --porcelain -- config charts/token-operator/crds charts/token-operator/files api docs/api-reference.md go.mod go.sum; \
		git --no-pager diff --stat -- config charts/token-operator/crds charts/token-operator/files api docs/api-reference.md go.mod go.sum; exit 1; fi
	@if [ -n "$$(gofmt -s -l $$(git ls-files '*.go'))" ]; then echo "verify: gofmt -s needed:"; gofmt -s -l $$(git ls-files '*.go'); exit 1; fi
	$(MAKE) vet lint

##@ Build

.PHONY: build
build: ## Build the token-operator binary into bin/.
	CGO_ENABLED=0 go build -trimpath -o $(LOCALBIN)/token-operator .

# The image: named as the chart's default image.repository and appVersion, so `helm install` of a
# chart from this checkout runs what `make image` built. SOURCE_DATE_EPOCH (default: the last
# commit's time) stamps every file and the config: the same commit gives the same digest.
IMAGE_REPOSITORY ?= ghcr.io/tokenops/token-operator
VERSION ?= $(shell awk '/^appVersion:/ {gsub(/"/, "", $$2); print $$2}' charts/token-operator/Chart.yaml)
IMAGE ?= $(IMAGE_REPOSITORY):$(VERSION)
IMAGE_ARCHIVE ?= $(LOCALBIN)/token-operator-image.tar
ARCH ?= $(shell go env GOARCH)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
# Tests that run the image (test/podcontract) load it from here.
export TOKEN_OPERATOR_IMAGE = $(IMAGE_ARCHIVE)

.PHONY: image
image: | $(LOCALBIN) ## Build the OCI image archive bin/token-operator-image.tar without Docker (docker-archive format).
	CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) go build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(LOCALBIN)/image/token-operator .
	go run ./hack/image --binary $(LOCALBIN)/image/token-operator --os linux --arch $(ARCH) \
		--version $(VERSION) --revision "$(REVISION)" --created $(SOURCE_DATE_EPOCH) \
		--name $(IMAGE) --out $(IMAGE_ARCHIVE)

.PHONY: control-plane
control-plane: ## Build kube-apiserver, etcd and kubectl from the Go module proxy into CONTROL_PLANE_DIR (once).
	KUBE_VERSION=$(KUBE_VERSION) hack/control-plane/build.sh

.PHONY: node
node: ## Build the test node (kubelet, controller-manager, scheduler, kube-proxy, containerd, CNI plugins, CoreDNS) into NODE_DIR (once).
	KUBE_VERSION=$(KUBE_VERSION) hack/node/build.sh

##@ Tools

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

.PHONY: controller-gen staticcheck helm crd-ref-docs
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen into bin/.
staticcheck: $(STATICCHECK) ## Install staticcheck into bin/.
helm: $(HELM) ## Install helm into bin/.
crd-ref-docs: $(CRD_REF_DOCS) ## Install crd-ref-docs (the API reference generator) into bin/.

$(CONTROLLER_GEN): | $(LOCALBIN)
	$(call go-install-tool,$@,sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))
$(STATICCHECK): | $(LOCALBIN)
	$(call go-install-tool,$@,honnef.co/go/tools/cmd/staticcheck,$(STATICCHECK_VERSION))
$(HELM): | $(LOCALBIN)
	$(call go-install-tool,$@,helm.sh/helm/v3/cmd/helm,$(HELM_VERSION))
$(CRD_REF_DOCS): | $(LOCALBIN)
	$(call go-install-tool,$@,github.com/elastic/crd-ref-docs,$(CRD_REF_DOCS_VERSION))

# go-install-tool installs $2@$3 and names the binary $1 (versioned names make a bump reinstall).
define go-install-tool
@[ -f "$(1)" ] || { \
	set -e; pkg=$(2)@$(3); echo "Installing $${pkg}"; \
	GOBIN=$(LOCALBIN) GOFLAGS=-mod=mod go install $${pkg}; \
	mv "$(LOCALBIN)/$$(basename $(2))" $(1); }
endef
