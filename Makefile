# Trusted Certificate Service. `make help` lists the targets.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BIN_DIR ?= $(CURDIR)/bin
GO ?= go
# Packages under test; hack/ holds separate tools modules and is left out.
TEST_PACKAGES ?= ./...
TEST_FLAGS ?= -count=1 -timeout=30m

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: generate
generate: ## Regenerate deepcopy code and the CRDs under config/crd from the API types.
	$(GO) tool controller-gen object:headerFile=hack/boilerplate.go.txt paths=./api/...
	$(GO) tool controller-gen crd:crdVersions=v1 paths=./api/... output:crd:artifacts:config=config/crd/bases

.PHONY: build
build: ## Build tcs-issuer, tcs-keyserver and tcsctl into bin/.
	$(GO) build -o $(BIN_DIR)/ ./cmd/...

.PHONY: controlplane
controlplane: ## Build etcd and kube-apiserver from source into bin/ (minutes the first time).
	BIN_DIR=$(BIN_DIR) bash hack/controlplane/build.sh

.PHONY: tools
tools: ## Build helm and kustomize from source into bin/ for the deployment tests.
	BIN_DIR=$(BIN_DIR) bash hack/tools/build.sh

.PHONY: softhsm
softhsm: ## Make sure SoftHSM2 is installed (installs it with apt-get when root).
	bash hack/ensure-softhsm.sh

.PHONY: test
test: softhsm controlplane tools ## Run all unit and integration tests (builds what they need first).
	KUBEBUILDER_ASSETS=$(BIN_DIR) $(GO) test $(TEST_FLAGS) $(TEST_PACKAGES)

.PHONY: demo
demo: softhsm controlplane build ## Run the local end-to-end demo (builds what it needs first).
	$(GO) mod download github.com/cert-manager/cert-manager
	$(BIN_DIR)/tcsctl demo --bin-dir $(BIN_DIR) --out $(CURDIR)/demo-out \
		--crds $(CURDIR)/config/crd/bases \
		--crds "$$($(GO) list -m -f '{{.Dir}}' github.com/cert-manager/cert-manager)/deploy/crds"
