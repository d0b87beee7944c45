# Two commands set everything up on a fresh machine: `make test` and `make run`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAGE ?= simple

.PHONY: test test-fast typecheck run bench bench-scale bench-day lint format deploy package clean grants

# The virtualenv is rebuilt whenever a requirements file changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt payments/requirements.txt \
		layers/requests.txt layers/tzdata.txt tournaments/requirements.txt \
		layers/icalendar.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# checkov (the IaC scan in tests/infra/test_packaging.py) pins its own dependencies, which clash
# with ours: its own virtualenv inside .venv.
CHECKOV_VENV := $(VENV)/checkov
$(CHECKOV_VENV)/.installed: requirements-checkov.txt | $(VENV)/.installed
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

# The pinned Serverless Framework CLI (osls) and its plugins.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Everything (docs/testing.md): ruff, then every tier on every core. --dist loadgroup keeps
# each module of the slow tiers on one worker (its `make run` stack or `sls package` built
# once, tests/conftest.py) and spreads the handler tests one by one; the slow tiers are named
# first so the quick tests fill the workers at the end.
test: $(VENV)/.installed $(CHECKOV_VENV)/.installed node_modules/.installed
	$(PY) -m ruff check .
	$(PYRIGHT)
	$(PY) -m pytest -n auto --dist loadgroup tests/infra tests/e2e tests/local tests/handlers tests/unit

# The one-minute loop: pure rules and the handlers on moto, on every core, with a tenth of
# the property tests' examples (the `fast` profile, tests/conftest.py). Compiled modules are
# kept in .pycache/ even where PYTHONDONTWRITEBYTECODE is set: without them every worker of every
# run compiles the project, its libraries and pytest's rewritten tests again (docs/testing.md).
PYCACHE := $(CURDIR)/.pycache
test-fast: $(VENV)/.installed
	PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX=$(PYCACHE) \
		$(PY) -m pytest -n auto --hypothesis-profile=fast tests/unit tests/handlers

# The product packages' types against the libraries' own: Stripe's request params, msgspec,
# Powertools, botocore (docs/typecheck.md). pyright is pinned in package.json; its settings are
# pyproject.toml's [tool.pyright].
PYRIGHT := node_modules/.bin/pyright
typecheck: $(VENV)/.installed node_modules/.installed
	$(PYRIGHT)

run: $(VENV)/.installed node_modules/.installed
	$(PY) -m local

bench: $(VENV)/.installed node_modules/.installed
	$(PY) -m bench

# What requests read as the data grows (1k, 10k, 50k availabilities and meetings): a few minutes.
bench-scale: $(VENV)/.installed node_modules/.installed
	$(PY) -m bench.scale

# `make run` through a working day: memory and booking latency at 0, 1k, 10k operations.
bench-day: $(VENV)/.installed node_modules/.installed
	$(PY) -m bench.day

# The reviewed IAM pin (docs/testing.md, "Grants"): tests/infra/grants.json from serverless.yml's
# roles, after a grant changes there; the tests fail until it is current.
grants: $(VENV)/.installed node_modules/.installed
	$(PY) tests/infra/grants.py

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/.installed
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

package: node_modules/.installed
	npx sls package --stage $(STAGE)

deploy: node_modules/.installed
	npx sls deploy --stage $(STAGE)

clean:
	rm -rf $(VENV) node_modules .serverless .pytest_cache .hypothesis
