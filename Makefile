# prodlab — the two commands of the quickstart are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PROFILE ?= full

.PHONY: setup system venv docker demo up down test test-fast lint typecheck clean

## setup: Debian packages (when root; else prints the command), .venv, the package. Idempotent.
setup: system venv

system:
	@bash scripts/setup-system.sh

venv: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

## demo: boot the lab and run the scale-out scenario; prints the report's path.
demo: setup
	@bash scripts/demo.sh $(PROFILE)

up: setup
	$(BIN)/lab up

down:
	$(BIN)/lab down

## docker: Docker engine, Compose v2, a local base image and stand-ins for the official
## images (root; cached: ~5 min cold, a few seconds warm). Needed by the compose tests.
docker: venv
	@bash scripts/docker-setup.sh

## test: lint, types, and the whole suite against real processes and a real Docker engine:
## two at a time what only checks behaviour (one worker drives Docker, the other the native
## labs), then alone what measures speed (the lessons). Fails if either part failed.
test: setup lint typecheck docker
	@$(BIN)/pytest -m "not serial" -n 2; parallel=$$?; \
	$(BIN)/pytest -m serial; serial=$$?; \
	echo "make test: not serial exit $$parallel, serial exit $$serial"; \
	test $$parallel -eq 0 -a $$serial -eq 0

test-fast: venv
	$(BIN)/pytest -m "not procs and not compose and not e2e"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

clean:
	-$(BIN)/lab down --volumes
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
