# Two commands for a fresh machine with nothing but Python 3.11+: `make run` and `make test`.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= var

.PHONY: install system-deps run test lint bench clean

$(VENV)/.installed: pyproject.toml requirements.lock
	@test -n "$(PYTHON)" || { echo "Нужен Python 3.11 или новее"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/nastavnik up --demo --data-dir $(DATA_DIR)

lint: install
	$(BIN)/ruff check --output-format concise .

system-deps:
	@bash .ci/system-deps

#: Test processes; the tests marked `solo` measure latency under load, so they run afterwards,
#: with the machine to themselves. TEST_WORKERS=2 runs the first part on two processes (half the
#: time), but on two cores a few timing-sensitive tests then fail now and then: one by default.
TEST_WORKERS ?= 0

test: install lint system-deps
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile -m "not solo"; parallel=$$?; \
	$(BIN)/pytest -m solo; solo=$$?; \
	test $$parallel -eq 0 && test $$solo -eq 0

bench: install
	@mkdir -p artifacts
	$(BIN)/nastavnik bench --scale municipality --json artifacts/bench.json

clean:
	rm -rf $(VENV) $(DATA_DIR) .pytest_cache .ruff_cache
