# Everyday commands. Every target needs only Python >= 3.11 on PATH: when no uv is on PATH, the
# pinned one is installed into a private tools directory first (deploy/bootstrap-uv.sh), never
# into the system Python.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
TOOLS_DIR ?= $(CURDIR)/.tools
UV := $(or $(shell command -v uv 2>/dev/null),$(TOOLS_DIR)/bin/uv)
RUN := $(UV) run --frozen
PYTEST := $(RUN) pytest -p no:cacheprovider
SOURCES := service-kit/src service-kit-testing/src identity-service/src items-service/src gateway/render.py
STACK ?= native


.PHONY: help uv install lint fmt test test-unit e2e run migrate seed bench bench-reference bench-flood bench-revocation bench-scale bench-auth asyncapi clients clean images up down

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(TOOLS_DIR)/bin/uv:
	bash deploy/bootstrap-uv.sh "$(TOOLS_DIR)" $(UV_VERSION)

uv: $(UV) ## Install the pinned uv into .tools/ unless one is on PATH; print which uv is used
	@echo "$(UV)"

install: $(UV) ## Every workspace package from the lock file into .venv (uv first, if missing)
	$(UV) sync --all-packages --frozen

lint: install ## ruff (lint + format check), mypy --strict (and on the e2e tests, typed clients' users), import-linter layer contracts
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy $(SOURCES)
	$(RUN) mypy tests-e2e/src tests-e2e/tests
	$(RUN) lint-imports

fmt: install ## Format and auto-fix
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

test: lint ## Lint, then every test suite (each package's tests run in their own pytest)
	$(PYTEST) service-kit/tests
	$(PYTEST) identity-service/tests
	$(PYTEST) items-service/tests
	$(PYTEST) gateway/tests
	$(PYTEST) deploy/tests
	$(PYTEST) docs/tests
	$(PYTEST) clients/tests
	@# e2e: native always; compose too when a Docker engine answers. Where one is required (CI
	@# set, or REQUIRE_DOCKER=1) a missing engine fails the run instead of skipping compose.
	@modes=native; \
	if docker info >/dev/null 2>&1; then modes="native compose"; \
	elif [[ "$${CI:-}" =~ ^(1|[Tt]rue|TRUE|yes)$$ || "$${REQUIRE_DOCKER:-}" == 1 ]]; then \
	  echo "e2e: no Docker engine ('docker info' failed); CI needs the compose mode" >&2; exit 1; \
	else echo "e2e: compose mode skipped: no Docker engine ('docker info' failed)"; fi; \
	failed=; \
	for mode in $$modes; do \
	  echo "e2e: STACK=$$mode"; \
	  STACK=$$mode $(PYTEST) tests-e2e/tests || failed="$$failed $$mode"; \
	done; \
	echo "e2e modes run: $$modes"; \
	if [ -n "$$failed" ]; then echo "e2e modes failed:$$failed" >&2; exit 1; fi

test-unit: install ## Only the fast unit tests (no database)
	$(PYTEST) service-kit/tests/unit
	$(PYTEST) identity-service/tests/unit
	$(PYTEST) items-service/tests/unit

e2e: install ## End-to-end tests through the gateway; STACK=native (local processes, default) or compose
	STACK=$(STACK) $(PYTEST) tests-e2e/tests

run: install ## The stack as local processes: gateway 127.0.0.1:8080, identity :8001, items :8002 (SQLite)
	exec deploy/run-local.sh

migrate: install ## Apply both services' migrations (flask db upgrade)
	$(RUN) flask --app identity db upgrade
	$(RUN) flask --app items db upgrade

seed: migrate ## Development users (admin@example.com / user@example.com, password change-me-now)
	$(RUN) flask --app identity seed

bench: install ## Benchmarks: items vs the reference (wrk), list vs a baseline, login flood, revocation, 1M items, auth costs
	$(RUN) python bench/vs_reference.py
	$(RUN) python bench/items_list.py
	$(RUN) python bench/password_flood.py
	$(RUN) python bench/revocation_end_to_end.py
	$(RUN) python bench/items_scale.py
	$(RUN) python bench/auth_costs.py

bench-reference: install ## Only items vs the reference app through the gateway: list, create, 304, balance
	$(RUN) python bench/vs_reference.py

bench-flood: install ## Only the login-flood benchmark: reads and refreshes stay fast during it
	$(RUN) python bench/password_flood.py

bench-revocation: install ## Only the revocation path: identity's answer to the first 401 at items
	$(RUN) python bench/revocation_end_to_end.py

bench-scale: install ## Only the 1,000,000-item run: deep pages and the admin name search
	$(RUN) python bench/items_scale.py

bench-auth: install ## Only login and refresh costs: login beyond its hash, refresh vs create
	$(RUN) python bench/auth_costs.py

clients: install ## Regenerate the committed OpenAPI documents and typed clients (clients/; a test checks them)
	$(RUN) python clients/generate.py

asyncapi: install ## Regenerate docs/events.asyncapi.json from the event contract (a test checks it)
	$(RUN) python -m service_kit.events.asyncapi > docs/events.asyncapi.json

images: ## Offline stand-ins for the base images (python, postgres, nginx) from Debian packages
	deploy/offline-images.sh

up: ## The containerised stack (PostgreSQL x2, migrations, services, gateway on 127.0.0.1:8080)
	docker compose up --build -d --wait
	@echo "gateway: http://$$(docker compose port gateway 8080)  ('make down' stops it and deletes the data)"

down: ## Stop the containerised stack and delete its volumes (both databases)
	docker compose down -v --remove-orphans

clean: ## Remove local state (SQLite files, caches)
	rm -rf var .tools .mypy_cache .ruff_cache .pytest_cache
