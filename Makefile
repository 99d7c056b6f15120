# make demo: the whole promotion flow on a local MLflow server seeded with demo models.
# make test: the test suite (real MLflow server, real git; see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint venv clean sysdeps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP) sysdeps
	$(BIN)/python -m pytest

# The image tests need a docker engine and registry; as root with apt, install them.
sysdeps:
	@if ! command -v dockerd >/dev/null || ! command -v docker-registry >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io docker-registry; \
	  else \
	    echo "note: dockerd or docker-registry is missing; the image tests will be skipped (apt-get install docker.io docker-registry)"; \
	  fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf .demo .bench
