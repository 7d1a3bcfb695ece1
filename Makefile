# Two commands on a fresh machine with Python 3.11 and make: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Stamps name pyproject.toml's checksum: an edit reinstalls, nothing else does. The demo installs only the
# product (`make demo`); `make test` and the other developer targets add the dev extra (test and lint tools).
STAMP_ID := $(shell cksum pyproject.toml | cut -d' ' -f1)
PRODUCT := $(VENV)/.product-$(STAMP_ID)
DEV := $(VENV)/.dev-$(STAMP_ID)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Two `make test` at once (two clones) install at once: the second waits for apt's lock instead of failing.
# (apt waits on dpkg's lock, not on the package lists': `update` is tried again for up to five minutes.)
APT := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600
APT_UPDATE := n=0; until $(APT) update -qq; do n=$$((n + 1)); [ $$n -lt 20 ] || exit 1; sleep 15; done
# uv installs (pip's resolver took minutes here); bootstrapped into the venv by pip, so the machine needs only
# Python and make. Its download cache is the user's (~/.cache/uv): a second clone installs from it.
UV_PIP := env VIRTUAL_ENV=$(CURDIR)/$(VENV) UV_PYTHON_DOWNLOADS=never $(BIN)/uv pip install --quiet --python $(BIN)/python
# [tool.vton-eval] no-deps in pyproject.toml: packages installed without their declared dependencies
# (pyproject.toml says why), after the project.
NO_DEPS = $$($(BIN)/python -c 'import tomllib; t = tomllib.load(open("pyproject.toml", "rb")); \
	print(*t.get("tool", {}).get("vton-eval", {}).get("no-deps", []))')

.PHONY: venv product demo test test-repeat compat lint docs bench browser postgres clean

# The whole development environment (product + dev extra), as `make test` uses it.
venv: $(DEV)

product: $(PRODUCT)

$(BIN)/uv:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv

$(PRODUCT): pyproject.toml | $(BIN)/uv
	$(UV_PIP) -e .
	@deps="$(NO_DEPS)"; [ -z "$$deps" ] || $(UV_PIP) --no-deps $$deps
	@rm -f $(VENV)/.product-*
	@touch $@

$(DEV): pyproject.toml | $(BIN)/uv
	$(UV_PIP) -e '.[dev]'
	@deps="$(NO_DEPS)"; [ -z "$$deps" ] || $(UV_PIP) --no-deps $$deps
	@rm -f $(VENV)/.product-* $(VENV)/.dev-* $(VENV)/.installed-*
	@touch $(PRODUCT) $@

# The real-browser test drives Debian's chromium through Playwright (no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { $(APT_UPDATE); $(APT) install -y -qq chromium >/dev/null; }

# The shared-store tests start their own PostgreSQL (initdb + pg_ctl in a temp folder, a free loopback
# port); install the server binaries if missing, starting nothing (policy-rc.d refuses the package's own
# cluster start while apt runs).
postgres:
	@command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
		$(APT_UPDATE); \
		if [ ! -e /usr/sbin/policy-rc.d ]; then \
			printf '#!/bin/sh\nexit 101\n' | $(SUDO) tee /usr/sbin/policy-rc.d >/dev/null && \
			$(SUDO) chmod +x /usr/sbin/policy-rc.d && trap '$(SUDO) rm -f /usr/sbin/policy-rc.d' EXIT; \
		fi; \
		$(APT) install -y -qq postgresql >/dev/null; }

# Ports: make demo PORT=8502 SANDBOX_PORT=7861 (defaults 8501 and 7860).
PORT ?= 8501
SANDBOX_PORT ?= 7860

demo: product
	$(BIN)/vton-eval demo --port $(PORT) --sandbox-port $(SANDBOX_PORT)

# The suite runs on WORKERS parallel pytest processes (pytest-xdist), each with its own sandbox, PostgreSQL,
# ports and folders; more workers than cores, since most tests wait on servers and subprocesses more than
# they compute. `make test WORKERS=0` runs it in one process.
WORKERS ?= 4
test: venv browser postgres
	$(BIN)/lint-imports --no-cache
	@NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir test-output/site
	@$(BIN)/python -m pytest -n $(WORKERS); status=$$?; \
	if [ $$status -eq 5 ]; then echo 'pytest collected no tests: failing' >&2; exit 1; fi; exit $$status

# The whole suite N times in a row (make test-repeat N=5): a test that fails by chance shows up here. Every run
# goes to the end; the tally and each run's time are printed, and the target fails if any run failed.
N ?= 5
test-repeat: venv browser postgres
	@mkdir -p test-output; : > test-output/repeat.txt; failed=0; \
	for i in $$(seq 1 $(N)); do \
		start=$$(date +%s); \
		$(MAKE) --no-print-directory test > test-output/repeat-$$i.log 2>&1; status=$$?; \
		summary=$$(grep -E '^=+ .*(passed|failed|error).* =+$$' test-output/repeat-$$i.log | tail -1 | tr -d '='); \
		line="run $$i of $(N): $$([ $$status -eq 0 ] && echo passed || echo FAILED) in $$(( $$(date +%s) - start )) s:$$summary"; \
		echo "$$line" | tee -a test-output/repeat.txt; \
		[ $$status -eq 0 ] || { failed=$$((failed + 1)); grep -E '^(FAILED|ERROR) ' test-output/repeat-$$i.log; }; \
	done; \
	echo "$$(( $(N) - failed )) of $(N) runs passed (logs: test-output/repeat-*.log)"; [ $$failed -eq 0 ]

# The compatibility suite: every built-in profile against the sandbox's signatures served by the Gradio
# versions the services pin, each in its own virtual environment under .compat/ (built once from the lock
# files in compat/ with uv, rebuilt when a lock file changes; uv's download cache lives there too), and
# by the project's own Gradio. Kept out of `make test`; .ci/run runs both.
COMPAT_GRADIO := 4.16.0 4.24.0 4.41.0 5.6.0
COMPAT_DIR := .compat
COMPAT_ENVS := $(foreach v,$(COMPAT_GRADIO),$(COMPAT_DIR)/gradio-$(v)/.built)
UV := env UV_CACHE_DIR=$(CURDIR)/$(COMPAT_DIR)/uv-cache UV_PYTHON_DOWNLOADS=never $(BIN)/uv

compat: venv $(COMPAT_ENVS)
	@$(BIN)/python -m pytest compat -p no:cacheprovider; status=$$?; \
	if [ $$status -eq 5 ]; then echo 'pytest collected no tests: failing' >&2; exit 1; fi; exit $$status

$(COMPAT_DIR)/gradio-%/.built: compat/gradio-%.txt | $(DEV)
	@rm -rf $(COMPAT_DIR)/gradio-$*
	$(UV) venv --quiet --python $(PYTHON) $(COMPAT_DIR)/gradio-$*
	$(UV) pip sync --quiet --python $(COMPAT_DIR)/gradio-$*/bin/python $<
	@touch $@

lint: venv
	$(BIN)/ruff check vton_eval dashboard tests bench compat
	$(BIN)/lint-imports --no-cache

# The user's guide (docs/, MkDocs Material) on http://127.0.0.1:$(DOCS_PORT), rebuilt as you edit it.
DOCS_PORT ?= 8000
docs: venv
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)

bench: venv
	$(BIN)/python bench/dispatch.py

clean:
	rm -rf $(VENV) .pytest_cache test-output site $(COMPAT_DIR)
