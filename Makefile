# airgap.kubespray: build the Go binary modules, their doc stubs, the collection tarball.
#
#   make                 build every module for linux/amd64 and linux/arm64 into plugins/modules/
#   make docs            regenerate plugins/modules/<name>.py from the Go argument specs
#   make collection      build/airgap-kubespray-<version>.tar.gz (checked < 20 MB)
#   make install         install that tarball into $(COLLECTIONS_PATH)
#   make test            Go tests, doc stubs up to date, integration tests (real nginx, ansible)
#   make test-clients    containerd (CRI, ctr) and Kubespray's download_file.yml against the demo mirror
#   make demo            the local demo on loopback (state in .demo/; make demo-down stops it)
#   make bench-files     offline_file_fetch against wget -x and curl loops
#   make bench-manifest  the manifest playbook against its 15 s budget
#   make bench-images    offline_image_push against nerdctl, podman and skopeo

export PATH := /usr/local/go/bin:$(PATH)
export CGO_ENABLED := 0

GO          ?= go
# Modules in the one multi-call binary plugins/bin/airgap_linux_<arch> (see modules/airgap),
# and modules with a small binary of their own (modules/<name>/cmd), which run on every node.
SOLO        := $(patsubst modules/%/cmd/main.go,%,$(wildcard modules/offline_*/cmd/main.go))
MODULES     := $(filter-out $(SOLO),$(patsubst modules/%/module.go,%,$(wildcard modules/offline_*/module.go)))
ARCHES      := amd64 arm64
VERSION     := $(shell sed -n 's/^version: *//p' galaxy.yml)
TARBALL     := build/airgap-kubespray-$(VERSION).tar.gz
MAX_TARBALL := 20000000
COLLECTIONS_PATH ?= $(HOME)/.ansible/collections
GOFLAGS_BUILD := -trimpath -ldflags='-s -w -buildid='

BINARIES := $(foreach a,$(ARCHES),plugins/bin/airgap_linux_$(a))
LINKS    := $(foreach m,$(MODULES),$(foreach a,$(ARCHES),plugins/modules/$(m)_linux_$(a)))
SOLO_BINARIES := $(foreach m,$(SOLO),$(foreach a,$(ARCHES),plugins/modules/$(m)_linux_$(a)))
GO_SRC   := $(shell find modules -name '*.go' -not -name '*_test.go') go.mod go.sum

.PHONY: all build docs check-docs collection install test test-go test-integration test-manifest test-registry test-repos test-os-repos test-demo test-clients lint demo demo-down bench-files bench-manifest bench-images clean

all: build

build: $(BINARIES) $(LINKS) $(SOLO_BINARIES)

plugins/bin/airgap_linux_%: $(GO_SRC)
	@echo "go build airgap linux/$*"
	@mkdir -p plugins/bin
	GOOS=linux GOARCH=$* $(GO) build $(GOFLAGS_BUILD) -o $@ ./modules/airgap

# plugins/modules/<module>_linux_<arch> -> ../bin/airgap_linux_<arch> (ansible-galaxy keeps the link)
$(LINKS): $(BINARIES)
	@ln -sfn ../bin/airgap_linux_$(lastword $(subst _, ,$@)) $@

# plugins/modules/<solo module>_linux_<arch>, a binary of its own
$(SOLO_BINARIES): $(GO_SRC)
	@m=$$(echo $(notdir $@) | sed 's/_linux_[a-z0-9]*$$//'); a=$(lastword $(subst _, ,$@)); \
	echo "go build $$m linux/$$a"; \
	GOOS=linux GOARCH=$$a $(GO) build $(GOFLAGS_BUILD) -o $@ ./modules/$$m/cmd

# doc_stub MODULE: print the module's documentation stub from its Go spec
doc_stub = $(if $(filter $(1),$(SOLO)),$(GO) run ./modules/$(1)/cmd --doc-stub,$(GO) run ./modules/airgap $(1) --doc-stub)

docs:
	@$(foreach m,$(MODULES) $(SOLO),$(call doc_stub,$(m)) > plugins/modules/$(m).py.tmp && mv plugins/modules/$(m).py.tmp plugins/modules/$(m).py && echo "wrote plugins/modules/$(m).py";)

check-docs:
	@rc=0; $(foreach m,$(MODULES) $(SOLO),$(call doc_stub,$(m)) | diff -u plugins/modules/$(m).py - >/dev/null || { echo "plugins/modules/$(m).py is stale: run 'make docs' and commit it"; rc=1; };) exit $$rc

collection: build check-docs
	@rm -f build/airgap-kubespray-*.tar.gz
	ansible-galaxy collection build --force --output-path build .
	@size=$$(stat -c %s $(TARBALL)); echo "$(TARBALL): $$size bytes"; \
	if [ $$size -ge $(MAX_TARBALL) ]; then echo "collection tarball is over Galaxy's 20 MB limit" >&2; exit 1; fi

install: collection
	ansible-galaxy collection install --force -p $(COLLECTIONS_PATH) $(TARBALL)

lint:
	@out=$$(gofmt -l modules); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@python3 -c 'import sys, yaml; [yaml.safe_load(open(f)) for f in sys.argv[1:]]' $$(git ls-files '*.yml' '*.yaml') && echo "YAML parses"

test: lint test-go check-docs test-registry test-repos test-integration test-manifest test-os-repos test-demo test-clients

test-go:
	$(GO) test -count=1 ./...

test-registry:
	$(GO) test -tags registry -count=1 ./tests/registry/

test-repos: build
	tests/repos/run.sh

test-integration: collection
	AIRGAP_SKIP_BUILD=1 tests/integration/run.sh

test-manifest: collection
	python3 -m unittest discover -s tests/manifest -v

demo: collection
	tests/demo/demo.py up

demo-down:
	tests/demo/demo.py down

test-os-repos: collection
	tests/os_repos/run.sh

test-demo: collection
	python3 -m unittest discover -s tests/demo -v

# Kubespray's own clients (containerd via CRI and ctr, its download_file.yml) against the demo
# mirror; containerd and crictl are built once into $AIRGAP_CACHE/tools
# (default /var/cache/airgap-kubespray) and reused.
test-clients: collection
	python3 -m unittest discover -s tests/clients -v

bench-files:
	tests/bench/files.sh

bench-manifest: collection
	tests/bench/manifest.sh

bench-images: build
	tests/bench/images.sh

clean:
	rm -rf build plugins/bin $(LINKS) $(SOLO_BINARIES)
