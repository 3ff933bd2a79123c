# airgap.kubespray: build the Go binary modules, their doc stubs, the collection tarball.
#
#   make                 build every module for linux/amd64 and linux/arm64 into plugins/modules/
#   make docs            regenerate plugins/modules/<name>.py from the Go argument specs, and
#                        plugins/doc_fragments/<name>.py from the options they share
#   make collection      build/airgap-kubespray-<version>.tar.gz (checked < 20 MB)
#   make install         install that tarball into $(COLLECTIONS_PATH)
#   make test            Go tests, doc stubs up to date, ansible-test sanity, integration tests
#                        (real nginx, ansible), the Ansible suites on each ansible-core lane (below)
#   make sanity          ansible-test sanity on the built collection (ansible-core 2.14 and 2.19)
#   make test-clients    containerd (CRI, ctr) and Kubespray's download_file.yml against the demo mirror
#   make test-daytwo     day two: a v2.30.0 site, a delta for v2.31.0, signed bundles, parts (tests/daytwo)
#   make demo            the local demo on loopback (state in .demo/; make demo-down stops it)
#   make bench-files     offline_file_fetch against wget -x and curl loops
#   make bench-manifest  the manifest playbook for 3, 300 and 1,000 hosts (classes of hosts)
#   make bench-images    offline_image_push against nerdctl, podman and skopeo
#   make bench-mirror    offline_image_push --storage-dir against cp -r, the HTTP push, crane and skopeo
#   make bench-sums      offline_bundle_sums on a 1 GB bundle: first run and rerun (under 0.5 s)
#   make bench-delta     a v2.30.0 -> v2.31.0 delta's size against the full bundle; pack+unpack against tar+zstd

export PATH := /usr/local/go/bin:$(PATH)
export CGO_ENABLED := 0

# Python tests and helpers run on Debian's python3, where the lanes' ansible-core and its libraries
# are (another python3 may come first on PATH).
PYTHON := /usr/bin/python3
# Ansible lanes (tests/lib/ansible-lane.sh): the suites that run Ansible run on each ansible-core
# line the collection supports: 2.14 (Debian 12), 2.17 (Kubespray 2.29, 2.30), 2.18 (Kubespray
# 2.31, master), 2.19 (Debian 13). test-integration and test-manifest run on every lane (two at a
# time; test-manifest whole on 2.18 only); the slowest suites, test-os-repos, test-demo,
# test-daytwo and test-clients, on 2.18 only; test-go, test-registry and test-repos run no Ansible.
# `ANSIBLE_LANE=2.19 make test-manifest` runs a suite (whole) on one lane.
ANSIBLE_LANES      := 2.14 2.17 2.18 2.19
ANSIBLE_SLOW_LANES := 2.18
ANSIBLE_LANE       ?=
# How many lanes a suite whose runs share nothing (integration, manifest) runs at once
ANSIBLE_LANE_JOBS  ?= 2
# on_lanes LANES, COMMAND: COMMAND on each of LANES (or on $(ANSIBLE_LANE) alone)
on_lanes = $(CURDIR)/tests/lib/ansible-lane.sh each "$(or $(ANSIBLE_LANE),$(1))" $(2)

GO          ?= go
# Modules in the big multi-call binary plugins/bin/airgap_linux_<arch> (modules/airgap), and
# the modules that run on every node, in the small one plugins/bin/airgap_node_linux_<arch>
# (modules/airgap_node registers the same names).
NODE        := offline_repo_config offline_probe
MODULES     := $(filter-out $(NODE),$(patsubst modules/%/module.go,%,$(wildcard modules/offline_*/module.go)))
ARCHES      := amd64 arm64
VERSION     := $(shell sed -n 's/^version: *//p' galaxy.yml)
TARBALL     := build/airgap-kubespray-$(VERSION).tar.gz
MAX_TARBALL := 20000000
COLLECTIONS_PATH ?= $(HOME)/.ansible/collections
GOFLAGS_BUILD := -trimpath -ldflags='-s -w -buildid='

BINARIES := $(foreach a,$(ARCHES),plugins/bin/airgap_linux_$(a) plugins/bin/airgap_node_linux_$(a))
LINKS    := $(foreach m,$(MODULES),$(foreach a,$(ARCHES),plugins/modules/$(m)_linux_$(a)))
NODE_LINKS := $(foreach m,$(NODE),$(foreach a,$(ARCHES),plugins/modules/$(m)_linux_$(a)))
GO_SRC   := $(shell find modules -name '*.go' -not -name '*_test.go') go.mod go.sum

.PHONY: all build docs check-docs collection install sanity test test-go test-unit test-integration test-manifest test-registry test-repos test-os-repos test-demo test-daytwo test-clients test-slow lint demo demo-down bench-files bench-manifest bench-images bench-mirror bench-sums bench-delta clean

all: build

build: $(BINARIES) $(LINKS) $(NODE_LINKS)

plugins/bin/airgap_linux_%: $(GO_SRC)
	@echo "go build airgap linux/$*"
	@mkdir -p plugins/bin
	GOOS=linux GOARCH=$* $(GO) build $(GOFLAGS_BUILD) -o $@ ./modules/airgap

plugins/bin/airgap_node_linux_%: $(GO_SRC)
	@echo "go build airgap_node linux/$*"
	@mkdir -p plugins/bin
	GOOS=linux GOARCH=$* $(GO) build $(GOFLAGS_BUILD) -o $@ ./modules/airgap_node

# plugins/modules/<module>_linux_<arch> -> ../bin/airgap_linux_<arch> or, for a node module,
# ../bin/airgap_node_linux_<arch> (ansible-galaxy keeps the link)
$(LINKS): $(BINARIES)
	@ln -sfn ../bin/airgap_linux_$(lastword $(subst _, ,$@)) $@

$(NODE_LINKS): $(BINARIES)
	@ln -sfn ../bin/airgap_node_linux_$(lastword $(subst _, ,$@)) $@

# doc_stub MODULE: print the module's documentation stub from its Go spec
doc_stub = $(GO) run ./modules/$(if $(filter $(1),$(NODE)),airgap_node,airgap) $(1) --doc-stub

docs:
	@$(foreach m,$(MODULES) $(NODE),$(call doc_stub,$(m)) > plugins/modules/$(m).py.tmp && mv plugins/modules/$(m).py.tmp plugins/modules/$(m).py && echo "wrote plugins/modules/$(m).py";)
	@$(GO) run ./modules/internal/module/docfragment write plugins/doc_fragments

check-docs:
	@rc=0; $(foreach m,$(MODULES) $(NODE),$(call doc_stub,$(m)) | diff -u plugins/modules/$(m).py - >/dev/null || { echo "plugins/modules/$(m).py is stale: run 'make docs' and commit it"; rc=1; };) $(GO) run ./modules/internal/module/docfragment check plugins/doc_fragments || rc=1; exit $$rc

collection: build check-docs
	@rm -f build/airgap-kubespray-*.tar.gz
	ansible-galaxy collection build --force --output-path build .
	@size=$$(stat -c %s $(TARBALL)); echo "$(TARBALL): $$size bytes"; \
	if [ $$size -ge $(MAX_TARBALL) ]; then echo "collection tarball is over Galaxy's 20 MB limit" >&2; exit 1; fi

install: collection
	ansible-galaxy collection install --force -p $(COLLECTIONS_PATH) $(TARBALL)

# ansible-lint (Debian 12's 6.13.1, tests/setup-host.sh installs it; .ansible-lint: the production
# profile) on the roles and playbooks, with this checkout linked into build/lint as the collection
# airgap.kubespray (our modules, filters and roles resolve by FQCN; nothing is installed). 6.13.1
# installs its collection finder from the directory above ANSIBLE_COLLECTIONS_PATH, hence the
# path ends in ansible_collections; its cache stays in build/lint.
LINT_COLLECTIONS := $(CURDIR)/build/lint/ansible_collections

lint:
	@out=$$(gofmt -l modules); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@$(PYTHON) tests/lib/yamllint.py $$(git ls-files '*.yml' '*.yaml') && echo "YAML parses, conditionals are strings"
	@$(PYTHON) tests/lib/changelog_lint.py changelogs && echo "changelog fragments follow changelogs/config.yaml"
	@rc=0; for t in tests/integration/targets/*/; do [ -f "$$t/aliases" ] || { echo "$${t}aliases is missing"; rc=1; }; done; \
	[ $$rc -eq 0 ] && echo "every integration target has aliases"
	@command -v ansible-lint >/dev/null || { echo "ansible-lint is not installed (tests/setup-host.sh installs it)"; exit 1; }
	@mkdir -p $(LINT_COLLECTIONS)/airgap && ln -sfn $(CURDIR) $(LINT_COLLECTIONS)/airgap/kubespray
	XDG_CACHE_HOME=$(CURDIR)/build/lint/cache ANSIBLE_COLLECTIONS_PATH=$(LINT_COLLECTIONS) ansible-lint roles playbooks

# ansible-test sanity on the built collection, on the lanes that ship ansible-test (2.17 and 2.18
# come from source trees without it), two at a time; the tests it skips and why:
# tests/sanity/run.sh. Ignores, each with its reason: tests/sanity/ignore-<version>.txt.
SANITY_LANES := 2.14 2.19

sanity: collection
	AIRGAP_LANE_JOBS=$(ANSIBLE_LANE_JOBS) $(call on_lanes,$(SANITY_LANES),tests/sanity/run.sh)

test: lint test-go test-unit check-docs sanity test-registry test-repos test-integration test-manifest test-slow

test-go:
	AIRGAP_HELM=$$(tests/lib/tools.sh helm) $(GO) test -count=1 ./...

test-registry:
	$(GO) test -tags registry -count=1 ./tests/registry/

test-repos: build
	tests/repos/run.sh

# the lanes that run the mirror checks (tests/integration/run.sh) first: two at a time, the longest first
INTEGRATION_LANE_ORDER := 2.19 2.18 2.14 2.17

test-integration: collection
	AIRGAP_SKIP_BUILD=1 AIRGAP_LANE_JOBS=$(ANSIBLE_LANE_JOBS) $(call on_lanes,$(INTEGRATION_LANE_ORDER),tests/integration/run.sh)

# the plugins' unit tests import each lane's own ansible-core (tests/unit/test_lane.py checks it)
test-unit:
	$(call on_lanes,$(ANSIBLE_LANES),sh -c 'PYTHONPATH=$$AIRGAP_LANE_PYTHONPATH exec $(PYTHON) -m unittest discover -s tests/unit -v')

# On 2.18 the whole manifest suite; on the other lanes the tests of what differs between
# ansible-core versions (templating, facts, variable precedence, result types, check mode): master's
# and 2.31's sample (calico, cilium) against Ansible's own evaluation with cached facts, declared
# platforms, no cluster host, classes, offline.yml, the download -> mirror -> verify chain and the
# OS repository key in check mode (tests/manifest/run.sh picks). Two lanes at a time: the runs
# share nothing (scratch folders, free ports); 2.18, the longest, first.
MANIFEST_LANE_TESTS := test_platforms test_manifest.GeneratedOfflineVars test_manifest.DownloadPipeline \
	test_packages.OsReposKey
MANIFEST_LANE_ORDER := $(ANSIBLE_SLOW_LANES) $(filter-out $(ANSIBLE_SLOW_LANES),$(ANSIBLE_LANES))

test-manifest: collection
ifeq ($(ANSIBLE_LANE),)
	MANIFEST_FULL_LANES="$(ANSIBLE_SLOW_LANES)" MANIFEST_LANE_TESTS="$(MANIFEST_LANE_TESTS)" AIRGAP_LANE_JOBS=$(ANSIBLE_LANE_JOBS) \
		$(call on_lanes,$(MANIFEST_LANE_ORDER),tests/manifest/run.sh)
else
	$(call on_lanes,$(ANSIBLE_LANE),tests/manifest/run.sh)
endif

demo: collection
	$(PYTHON) tests/demo/demo.py up

demo-down:
	$(PYTHON) tests/demo/demo.py down

# The suites that run on one lane only, each using about one core: `make test` runs them as two
# chains side by side (tests/lib/parallel.sh), demo then clients (clients reuse the demo's mirror)
# beside os-repos then daytwo (its own folder, .daytwo/). Each also runs alone (make test-demo, ...).
OS_REPOS_RUN = $(call on_lanes,$(ANSIBLE_SLOW_LANES),tests/os_repos/run.sh)
DEMO_RUN     = $(call on_lanes,$(ANSIBLE_SLOW_LANES),$(PYTHON) -m unittest discover -s tests/demo -v)
DAYTWO_RUN   = $(call on_lanes,$(ANSIBLE_SLOW_LANES),$(PYTHON) -m unittest discover -s tests/daytwo -v)
CLIENTS_RUN  = $(call on_lanes,$(ANSIBLE_SLOW_LANES),$(PYTHON) -m unittest discover -s tests/clients -v)

test-slow: collection
	tests/lib/parallel.sh '$(DEMO_RUN) && $(CLIENTS_RUN)' '$(OS_REPOS_RUN) && $(DAYTWO_RUN)'

test-os-repos: collection
	$(OS_REPOS_RUN)

test-demo: collection
	$(DEMO_RUN)

# Day two (issue 15): a site built at Kubespray v2.30.0, its state exported, a delta download for
# v2.31.0 applied by the mirror; signed bundles refused when tampered; parts for media. Its own
# folder, .daytwo/ (AIRGAP_DAYTWO_DIR), beside the demo's.
test-daytwo: collection
	$(DAYTWO_RUN)

# Kubespray's own clients (containerd via CRI and ctr, its download_file.yml) against the demo
# mirror; containerd and crictl are built once into $AIRGAP_CACHE/tools
# (default /var/cache/airgap-kubespray) and reused.
test-clients: collection
	$(CLIENTS_RUN)

bench-files:
	tests/bench/files.sh

bench-manifest: collection
	tests/bench/manifest.py

bench-images: build
	tests/bench/images.sh

bench-mirror: build
	tests/bench/mirror.sh

bench-sums:
	tests/bench/sums.sh

bench-delta: collection
	$(call on_lanes,$(ANSIBLE_SLOW_LANES),$(PYTHON) tests/bench/delta.py)

clean:
	rm -rf build plugins/bin $(LINKS) $(NODE_LINKS)
