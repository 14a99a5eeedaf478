# Bastion: the two commands of the quick start (make run, make test) and the benchmarks.
# Each target first checks the Debian packages it needs; as root it installs them with
# apt-get, otherwise it stops with the exact `sudo apt-get install …` line.

SWIFT ?= swift
CONFIG ?= Config/bastiond.toml

BUILD_PACKAGES := pkg-config libssh-dev libssl-dev libsqlite3-dev libqrencode-dev libpq-dev libp11-kit-dev
# Scripts/build-deb: objdump and strip (binutils); dpkg-deb is dpkg's own.
DEB_PACKAGES := binutils
# DebianPackageTests also lints the package and scores its unit (systemd-analyze).
TEST_PACKAGES := openssh-client openssh-server rsync oathtool asciinema expect curl tmux python3 sqlite3 rsyslog rsyslog-openssl openssl pamtester sudo chromium postgresql haproxy $(DEB_PACKAGES) lintian systemd softhsm2 opensc
BENCH_PACKAGES := $(TEST_PACKAGES)
# Scripts/fetch-web-assets: pip downloads asciinema-player for the web view (Debian's pip is python3 -m pip).
WEB_PACKAGES := python3 python3-pip
DEMO_PACKAGES := openssh-client openssh-server oathtool

.PHONY: run demo build test bench fuzz deps-build deps-test web-assets test-clients deb release-static clean

# The binary the Debian package ships: the Swift runtime linked in (the host needs no Swift),
# full RELRO and immediate binding (lintian's hardening checks).
RELEASE_STATIC := -c release --product bastiond --static-swift-stdlib -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now

define ensure_packages
	@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = "0" ]; then \
			echo "Installing Debian packages:$$missing"; \
			DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
		else \
			echo "Missing Debian packages. Run:"; echo "  sudo apt-get install$$missing"; exit 1; \
		fi; \
	fi
endef

deps-build:
	$(call ensure_packages,$(BUILD_PACKAGES))

deps-test: deps-build
	$(call ensure_packages,$(TEST_PACKAGES))

build: deps-build
	$(SWIFT) build --product bastiond

## The second SSH clients the tests drive, from PyPI: ansible-core and Paramiko, every package
## pinned by version and SHA-256 in Tests/python-clients.txt (pip refuses anything else),
## installed by Debian's python3 into .build/test-clients (git-ignored), never into the system.
## (TEST_CLIENTS and TEST_CLIENTS_DIR exist for the test that feeds it a tampered hash.)
TEST_CLIENTS ?= Tests/python-clients.txt
TEST_CLIENTS_DIR ?= .build/test-clients
test-clients:
	$(call ensure_packages,$(WEB_PACKAGES))
	@if ! cmp -s $(TEST_CLIENTS) $(TEST_CLIENTS_DIR)/.installed; then \
		echo "Installing from PyPI into $(TEST_CLIENTS_DIR) ($(TEST_CLIENTS), hashes required)"; \
		rm -rf $(TEST_CLIENTS_DIR) && \
		/usr/bin/python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-warn-script-location \
			--require-hashes --no-deps --only-binary :all: --target $(TEST_CLIENTS_DIR) -r $(TEST_CLIENTS) && \
		cp $(TEST_CLIENTS) $(TEST_CLIENTS_DIR)/.installed; \
	fi

## The web view's asciinema-player (Web/vendor, git-ignored), fetched from PyPI and checked by SHA-256.
web-assets:
	$(call ensure_packages,$(WEB_PACKAGES))
	Scripts/fetch-web-assets Web/vendor

## Start a working bastion on embedded defaults (SSH 127.0.0.1:2222, HTTP 127.0.0.1:8080).
run: build
	@$(MAKE) --no-print-directory web-assets || echo "bastion: could not fetch the web player (is PyPI reachable?); everything but the web view's player works"
	$(SWIFT) run --skip-build bastiond serve --config $(CONFIG)

## A first recorded session without a host of your own: bastiond and a throwaway local sshd
## target under .bastion-demo/, a demo user, and the three commands to try (Scripts/demo).
demo: build
	$(call ensure_packages,$(DEMO_PACKAGES))
	Scripts/demo

# The release binary `make deb` ships and DebianPackageTests packages (a relink after `make bench`).
release-static: deps-build
	$(SWIFT) build $(RELEASE_STATIC)

## bastiond_VERSION_amd64.deb in .build/deb (Scripts/build-deb; the version is Config/debian/changelog's).
deb: release-static web-assets
	$(call ensure_packages,$(DEB_PACKAGES))
	Scripts/build-deb .build/release/bastiond .build/deb

## Build everything and run every test (unit and integration with real OpenSSH). The release
## build is the one DebianPackageTests packages.
## At most TEST_WIDTH tests run at once (swift-testing's SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH):
## unbounded, every suite's daemons, sshds and clients started together, the load average on a
## 2-core machine reached 25-30, and timing-bound tests failed in CI; with 6 the load stays near
## 3-5 and the run takes as long (about 90 s of tests either way).
TEST_WIDTH ?= 6
test: deps-test web-assets test-clients release-static
	$(SWIFT) build --build-tests
	BASTION_DEB_BINARY=$(CURDIR)/.build/release/bastiond SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=$(TEST_WIDTH) $(SWIFT) test --skip-build

## Benchmarks (release build), printed as ratios against OpenSSH run side by side.
bench: deps-test
	$(SWIFT) build -c release --product bastiond
	$(SWIFT) build -c release --product bastion-bench
	$(SWIFT) build -c release --product libssh-floor
	.build/release/bastion-bench --bastiond .build/release/bastiond

## Parsers fed millions of mutated inputs (make test runs a few thousand each). FUZZ_SEED varies them;
## BASTION_FUZZ_LAST keeps the input that crashed a run.
FUZZ_ITERATIONS ?= 1000000
FUZZ_SEED ?= $(shell date +%s)
fuzz: deps-build
	$(SWIFT) build --build-tests
	BASTION_FUZZ_ITERATIONS=$(FUZZ_ITERATIONS) BASTION_FUZZ_SEED=$(FUZZ_SEED) BASTION_FUZZ_LAST=$(CURDIR)/.build/fuzz-last-input \
		$(SWIFT) test --skip-build --filter 'Fuzz|ProxyHeaderTests/mutations'

clean:
	rm -rf .build
