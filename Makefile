# Helpline tasks. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# uv is the installer; bootstrap it with pip when the machine lacks it.
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: help install run serve test check lint format typecheck bench db-shell db-stop clean

help: ## List the tasks
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-10s %s\n", $$1, $$2}'

install: ## Install Python and its dependencies from the lock file (idempotent)
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

run: install ## Set up everything and serve on http://127.0.0.1:8000 (HELPLINE_* settings apply)
	@$(UV) run --frozen helpline serve

test: check ## Lint, type-check, then run the whole test suite on real PostgreSQL and Redis
	@$(UV) run --frozen pytest

check: install ## ruff (lint + format check) and mypy --strict
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen mypy

format: install ## Apply ruff's fixes and formatting
	@$(UV) run --frozen ruff check --fix .
	@$(UV) run --frozen ruff format .

bench: install ## Run the benchmarks in bench/ (prints figures)
	@$(UV) run --frozen python bench/bench_auth.py

db-shell: install ## Open psql on Helpline's database
	@$(UV) run --frozen helpline db-shell

db-stop: install ## Stop the embedded PostgreSQL if a crashed run left it running
	@$(UV) run --frozen helpline db-stop

clean: ## Remove caches (keeps ./var, your data)
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis
