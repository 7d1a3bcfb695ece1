# Two commands on a fresh machine with Python 3.11 and make: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: venv demo test lint bench browser postgres clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps $$($(BIN)/python -c \
		'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["tool"]["vton-eval"]["no-deps"])')
	@rm -f $(VENV)/.installed-*
	@touch $@

# The real-browser test drives Debian's chromium through Playwright (no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The shared-store tests start their own PostgreSQL (initdb + pg_ctl in a temp folder, a free loopback
# port); install the server binaries if missing, starting nothing (policy-rc.d refuses the package's own
# cluster start while apt runs).
postgres:
	@command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && \
		if [ ! -e /usr/sbin/policy-rc.d ]; then \
			printf '#!/bin/sh\nexit 101\n' | $(SUDO) tee /usr/sbin/policy-rc.d >/dev/null && \
			$(SUDO) chmod +x /usr/sbin/policy-rc.d && trap '$(SUDO) rm -f /usr/sbin/policy-rc.d' EXIT; \
		fi; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

# Ports: make demo PORT=8502 SANDBOX_PORT=7861 (defaults 8501 and 7860).
PORT ?= 8501
SANDBOX_PORT ?= 7860

demo: venv
	$(BIN)/vton-eval demo --port $(PORT) --sandbox-port $(SANDBOX_PORT)

test: venv browser postgres
	$(BIN)/lint-imports --no-cache
	@$(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo 'pytest collected no tests: failing' >&2; exit 1; fi; exit $$status

lint: venv
	$(BIN)/ruff check vton_eval dashboard tests bench
	$(BIN)/lint-imports --no-cache

bench: venv
	$(BIN)/python bench/dispatch.py

clean:
	rm -rf $(VENV) .pytest_cache test-output
