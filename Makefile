# Two commands do everything on a fresh machine with Python 3.11: `make demo`, `make test`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SOURCES := bot handlers knowledge storage sandbox bench tests

.PHONY: install demo test test-postgres lint format bench bench-load bench-digest bench-broadcast clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (set PYTHON=/path/to/python3.11)")'
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { echo "venv support is missing: on Debian/Ubuntu, apt-get install python3.11-venv"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/voy demo $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)
	$(BIN)/mypy bot handlers knowledge storage sandbox bench

# Tests run in one process per core (pytest-xdist); PYTEST_WORKERS=0 runs them in this one.
PYTEST_WORKERS ?= auto
test: lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The whole suite again with every general database fixture on PostgreSQL (no lint).
VOY_TEST_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
test-postgres: $(STAMP)
	VOY_TEST_BACKEND=postgres VOY_TEST_POSTGRES_URL=$(VOY_TEST_POSTGRES_URL) $(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

format: $(STAMP)
	$(BIN)/ruff check --fix $(SOURCES)
	$(BIN)/ruff format $(SOURCES)

bench: $(STAMP)
	$(BIN)/python -m bench.bench_matcher $(BENCH_ARGS)

# The weekly digest on 1,000,000 questions and 100,000 wishes (SQLite; add
# BENCH_DIGEST_ARGS="--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test").
bench-digest: $(STAMP)
	$(BIN)/python -m bench.bench_digest $(BENCH_DIGEST_ARGS)
# A broadcast to 10,000 young people through the sandbox at 30 messages/s (~7 minutes);
# BROADCAST_ARGS="--recipients 500" for a quick run.
bench-broadcast: $(STAMP)
	$(BIN)/python -m bench.bench_broadcast $(BROADCAST_ARGS)
bench-load: $(STAMP)
	$(BIN)/python -m bench.bench_load $(BENCH_LOAD_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
