# Everyday commands. `make install` needs only Python >= 3.11: it installs uv when missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
RUN := $(UV) run --frozen
PYTEST := $(RUN) pytest -p no:cacheprovider
SOURCES := service-kit/src identity-service/src

# Local development: embedded SQLite under var/, cheap nothing, real Argon2id.
IDENTITY_PORT ?= 8001
export IDENTITY_DATABASE_URL ?= sqlite:///var/identity.db

.PHONY: help install lint fmt test test-unit test-integration run migrate seed clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

install: ## Install uv if missing, then every workspace package from the lock file
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --all-packages --frozen

lint: ## ruff (lint + format check), mypy --strict, import-linter layer contracts
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy $(SOURCES)
	$(RUN) lint-imports

fmt: ## Format and auto-fix
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

test: lint ## Lint, then every test suite (each package's tests run in their own pytest)
	$(PYTEST) service-kit/tests
	$(PYTEST) identity-service/tests

test-unit: ## Only the fast unit tests (no database)
	$(PYTEST) service-kit/tests/unit
	$(PYTEST) identity-service/tests/unit

run: migrate ## identity-service on 127.0.0.1:8001 under gunicorn (SQLite unless IDENTITY_DATABASE_URL)
	exec $(RUN) gunicorn -c python:service_kit.gunicorn_config \
		-b 127.0.0.1:$(IDENTITY_PORT) 'identity:create_app()'

migrate: ## Apply identity's migrations (flask db upgrade)
	$(RUN) flask --app identity db upgrade

seed: migrate ## Development users (admin@example.com / user@example.com, password change-me-now)
	$(RUN) flask --app identity seed

clean: ## Remove local state (SQLite files, caches)
	rm -rf var .mypy_cache .ruff_cache .pytest_cache
