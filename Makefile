# make demo: the whole promotion flow on a local MLflow server seeded with demo models.
# make test: the test suite (real MLflow server, real git; see README).
# make docs: the documentation site, built offline with `mkdocs build --strict` into site/ (DOCS_OUT=DIR elsewhere).
# Both install from the lock (requirements/*.txt, hashed); `make lock` updates it after a pyproject change.
PYTHON ?= python3
DEPS ?= locked
ifeq ($(DEPS),newest)
VENV ?= .venv-newest
else
VENV ?= .venv
endif
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV := $(BIN)/uv
LOCK := requirements/dev.txt
LOCKS := requirements/tools.txt requirements/serving.txt $(LOCK)
# uv never downloads an interpreter: the venv's own Python (3.10 to 3.13) is the one it installs for.
export UV_PYTHON_DOWNLOADS := never
# TLS roots from the system store (with SSL_CERT_FILE honoured), as pip and git use them.
export UV_SYSTEM_CERTS ?= 1
SHELL := /bin/bash
COMPILE = --universal --python-version 3.10 --generate-hashes --quiet

.PHONY: demo test test-postgres docs lint venv policy-venv lock lock-check clean sysdeps

# A fresh venv each time the lock or pyproject changes, so it holds exactly what the lock says.
# DEPS=newest installs the newest versions that resolve instead (the ci workflow's `newest` job).
$(STAMP): pyproject.toml $(LOCKS)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes --no-deps -r requirements/tools.txt
ifeq ($(DEPS),newest)
	$(UV) pip install -q --python $(BIN)/python --upgrade -e '.[dev,docs]'
else
	$(UV) pip install -q --python $(BIN)/python --require-hashes -r $(LOCK)
	$(UV) pip install -q --python $(BIN)/python --no-deps -e .
endif
	touch $(STAMP)

venv: $(STAMP)

# checkov, the policy check of the rendered manifests (.ci/run), has a lock and a venv of its own:
# it pins packaging<24 and boto3, which no resolution of the dev extra can meet.
POLICY := .venv-policy
$(POLICY)/.installed: requirements/policy.txt requirements/tools.txt
	rm -rf $(POLICY)
	$(PYTHON) -m venv $(POLICY)
	$(POLICY)/bin/python -m pip install -q --require-hashes --no-deps -r requirements/tools.txt
	$(POLICY)/bin/uv pip install -q --python $(POLICY)/bin/python --require-hashes -r requirements/policy.txt
	touch $@

policy-venv: $(POLICY)/.installed

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

# The suites whose outcome depends on the registry's backend run a second time on the `postgres` profile
# (MODELPINS_TEST_BACKEND, tests/conftest.py): MLflow with 4 workers on a throwaway PostgreSQL cluster, artefacts
# in moto's S3 server. Core apply, the lock and its races, the fault suite, environments, signing, the artefact
# lock and the image/init downloads; tests/backends holds the S3 artefact tests (skipped on sqlite).
BACKEND_SUITES := tests/test_apply.py tests/test_apply_parallel.py tests/test_registry_mutex.py tests/faults \
  tests/lifecycle/test_environments.py tests/lifecycle/test_environments_lock_gate.py \
  tests/lifecycle/test_environments_trace.py tests/lifecycle/test_signing.py tests/lifecycle/test_lock.py \
  tests/serving/test_artefacts.py tests/serving/test_images.py tests/serving/test_classic_image.py tests/backends

test: $(STAMP) sysdeps
	$(BIN)/python -m pytest
	$(MAKE) test-postgres

test-postgres: $(STAMP) sysdeps
	MODELPINS_TEST_BACKEND=postgres $(BIN)/python -m pytest $(BACKEND_SUITES)

# The reference pages are generated on every build (devkit/mkdocs_hooks.py, mkdocs-click), so they cannot go stale;
# --strict fails on any warning: a broken link or anchor, a page missing from the nav.
DOCS_OUT ?= site
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir "$(DOCS_OUT)"

# Re-resolve the lock after a change to pyproject.toml; pins that still fit are kept (uv prefers them). serving.txt
# (what the workflows install) is resolved within dev.txt, so the two never name different versions of a package.
lock: $(STAMP)
	$(UV) pip compile $(COMPILE) requirements/tools.in -o requirements/tools.txt
	$(UV) pip compile $(COMPILE) pyproject.toml --extra serving --extra dev --extra docs -o requirements/dev.txt
	$(UV) pip compile $(COMPILE) pyproject.toml --extra serving -c requirements/dev.txt -o requirements/serving.txt
	$(UV) pip compile $(COMPILE) requirements/policy.in -o requirements/policy.txt

# The lock is current: re-resolving it from pyproject.toml changes nothing.
lock-check: $(STAMP)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cp requirements/*.txt "$$tmp"/ && \
	$(UV) pip compile $(COMPILE) requirements/tools.in -o "$$tmp/tools.txt" && \
	$(UV) pip compile $(COMPILE) pyproject.toml --extra serving --extra dev --extra docs -o "$$tmp/dev.txt" && \
	$(UV) pip compile $(COMPILE) pyproject.toml --extra serving -c requirements/dev.txt -o "$$tmp/serving.txt" && \
	$(UV) pip compile $(COMPILE) requirements/policy.in -o "$$tmp/policy.txt" && \
	for f in tools serving dev policy; do \
	  diff <(tail -n +3 "requirements/$$f.txt") <(tail -n +3 "$$tmp/$$f.txt") >/dev/null || { \
	    echo "ERROR - requirements/$$f.txt is stale against pyproject.toml: run 'make lock' and commit it"; exit 1; }; \
	done && echo "lock is current: requirements/{tools,serving,dev,policy}.txt"

# The image tests need a docker engine and registry, the site tests a headless browser, the completion tests zsh and
# fish, the canary tests a Prometheus server, the postgres profile PostgreSQL's server (initdb, pg_ctl); as root
# with apt, install them.
SYSDEPS := dockerd:docker.io docker-registry:docker-registry chromium:chromium zsh:zsh fish:fish prometheus:prometheus
sysdeps:
	@missing=$$(for t in $(SYSDEPS); do command -v "$${t%%:*}" >/dev/null || echo "$${t#*:}"; done; \
	  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || echo postgresql); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "note: missing $$missing; the tests that need them will be skipped (apt-get install $$missing)"; \
	  fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m devkit.layers --check
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf .demo .bench
