# neural-feed: `make demo` runs the pipeline on MovieLens, `make test` runs every check.
# Both create .venv and start the embedded Postgres and Redis themselves, unless
# DNF_DATABASE_URL / DNF_REDIS_URL point at services of your own.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SERVICES := $(PY) -m dnf_core.services
export PYTHONPATH := $(CURDIR):$(CURDIR)/examples/movies
# ONNX exports of the model (ENCODER_BACKEND onnx, onnx-int8) are made once, here.
export DNF_MODEL_CACHE ?= $(CURDIR)/.dnf/models
BENCH ?=
# The key-type matrix runs once per user model key type (tests/keys/settings.py).
USER_KEY_TYPES := integer bigint uuid text

.PHONY: install model lint test test-suites test-fast demo bench services-start services-stop services-status clean

install: $(STAMP)

# torch first, pinned to the CPU build on this disk: left to sentence-transformers,
# pip would fetch a CUDA build of several GB.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The model for the ONNX backends (ENCODER_BACKEND, default onnx-int8): exported from
# the bundled weights and checked against torch's vectors once, in seconds, then
# cached in $(DNF_MODEL_CACHE). Workers would make it on first use; made here, no
# test or demo waits for it. Nothing is fetched.
model: $(STAMP)
	$(PY) -m dnf_core.encoders.export

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

test: lint
	$(SERVICES) run -- $(MAKE) --no-print-directory test-suites

# Needs the services (make test starts them): the suite, then the key-type matrix
# under each user model.
test-suites: model
	$(PY) -m pytest $(PYTEST_ARGS)
	for key in $(USER_KEY_TYPES); do \
		DNF_TEST_USER_KEY=$$key $(PY) -m pytest tests/keys --ds=tests.keys.settings -q || exit 1; \
	done

# Unit tests only: no services, no model.
test-fast: $(STAMP)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

demo: model
	$(SERVICES) run -- $(PY) examples/movies/manage.py demo

bench: model
	$(SERVICES) run -- $(PY) -m bench $(BENCH)

services-start: $(STAMP)
	@$(SERVICES) start

services-stop: $(STAMP)
	$(SERVICES) stop

services-status: $(STAMP)
	$(SERVICES) status

clean: services-stop
	rm -rf .dnf .pytest_cache .mypy_cache .ruff_cache
