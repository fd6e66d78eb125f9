## —— Flask observability bundle ————————————————————————————————————————————
# Every compose call goes through $(COMPOSE): one project directory, one set of env files.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PROFILE ?= full
PROJECT ?= flaskobs
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

comma := ,
PROFILE_LIST := $(subst $(comma), ,$(PROFILE))
ALL_PROFILES := app proxy metrics logs full
# The proxy in front of the app: nginx (default) or caddy (compose/proxy-caddy.yaml); from the
# command line, else from .env.
PROXY ?= $(or $(shell sed -n 's/^PROXY=\([^ \#]*\).*/\1/p' .env 2>/dev/null | tail -n1),nginx)
ALL_PROXIES := nginx caddy
ifneq ($(words $(PROXY))$(filter $(PROXY),$(ALL_PROXIES)),1$(PROXY))
$(error PROXY=$(PROXY) is not allowed; allowed: nginx, caddy)
endif
PROXY_FILE := $(if $(filter caddy,$(PROXY)),-f compose/proxy-caddy.yaml)
# The app's server: gunicorn (default) or uwsgi; from the command line, else from .env. Compose gets
# the checked value (COMPOSE_BASE); it is not exported to other recipes (make test).
APP_SERVER ?= $(or $(shell sed -n 's/^APP_SERVER=\([^ \#]*\).*/\1/p' .env 2>/dev/null | tail -n1),gunicorn)
ALL_APP_SERVERS := gunicorn uwsgi
ifneq ($(words $(APP_SERVER))$(filter $(APP_SERVER),$(ALL_APP_SERVERS)),1$(APP_SERVER))
$(error APP_SERVER=$(APP_SERVER) is not allowed; allowed: gunicorn, uwsgi)
endif
# Later files win: pinned images < air-gapped images < your .env.
ENV_FILES := --env-file compose/images.env $(if $(wildcard .airgap.env),--env-file .airgap.env) $(if $(wildcard .env),--env-file .env)
# The app publishes its own port only when it runs without Nginx.
COMPOSE_FILES := -f compose/compose.yaml $(PROXY_FILE) $(if $(filter-out app,$(PROFILE_LIST)),,-f compose/publish-app.yaml)
COMPOSE_BASE := env APP_SERVER=$(APP_SERVER) docker compose -p $(PROJECT) --project-directory compose $(ENV_FILES)
COMPOSE := $(COMPOSE_BASE) $(COMPOSE_FILES)
# compose.yaml builds your APP_DIR with this checkout's app.Dockerfile, by absolute path.
export FLASKOBS_DIR := $(CURDIR)
PROFILE_FLAGS := $(foreach p,$(PROFILE_LIST),--profile $(p))
ALL_PROFILE_FLAGS := $(foreach p,$(ALL_PROFILES),--profile $(p))
# Every profile at once, for the commands that act on whatever runs (down, ps, logs, ...).
COMPOSE_ALL := $(COMPOSE_BASE) -f compose/compose.yaml $(PROXY_FILE) $(ALL_PROFILE_FLAGS)
# Images built from local Debian images must not make BuildKit ask a registry.
ifneq ($(wildcard .airgap.env),)
export DOCKER_BUILDKIT := 0
endif

.PHONY: help init up down ps logs reload alerts silence preflight test test-unit test-config test-integration \
        lint bench clean images-airgap lock venv build-ca start test-e2e \
        swarm-stack swarm-deploy swarm-update swarm-rm install-systemd

help: ## Show this help
	@awk 'BEGIN {FS = ":.*?## "} /^[a-zA-Z_-]+:.*?## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2} /^## /{printf "\n\033[33m%s\033[0m\n", substr($$0, 4)}' $(MAKEFILE_LIST)
	@echo; echo "  PROFILE=$(PROFILE) (one or more of: $(ALL_PROFILES), comma-separated)"
	@echo "  PROXY=$(PROXY) (one of: $(ALL_PROXIES))"
	@echo "  APP_SERVER=$(APP_SERVER) (one of: $(ALL_APP_SERVERS))"

## —— Stack ————————————————————————————————————————————————————————————————
init: ## Write .env with fresh random secrets and a development TLS certificate (keeps existing ones)
	@$(PYTHON) scripts/init_env.py .

.env:
	@$(MAKE) --no-print-directory init

preflight: ## Check engine, Compose, memory and images for PROFILE before starting
	@$(PYTHON) scripts/preflight.py $(PROFILE) -- $(COMPOSE)

build-ca:
	@# pip inside the image build needs this host's CA bundle when it has a special one
	@# (.build/ is ignored by git; only the local build image holds the copy).
	@mkdir -p .build; cert=$$($(PYTHON) -m pip config get global.cert 2>/dev/null || true); \
	 cert=$${cert:-$${PIP_CERT:-}}; \
	 if [ -n "$$cert" ] && [ -f "$$cert" ]; then cp "$$cert" .build/ca.pem; else rm -f .build/ca.pem; fi

up: ## Build, start PROFILE (default full), wait until healthy, print the URLs
	@PREFLIGHT_PROFILE_ONLY=1 $(PYTHON) scripts/preflight.py $(PROFILE) -- true
	@$(MAKE) --no-print-directory .env
	@# A new make reads the .env that init may just have written.
	@$(MAKE) --no-print-directory start

start: preflight build-ca
	@$(COMPOSE) $(PROFILE_FLAGS) up -d --build --wait --remove-orphans \
	  || { echo "up: a service did not become healthy; see \`make ps\` and \`make logs\`" >&2; exit 1; }
	@bash scripts/print_urls.sh $(COMPOSE) $(PROFILE_FLAGS)

down: ## Stop and remove the containers of every profile (volumes are kept)
	@$(COMPOSE_ALL) down --remove-orphans

ps: ## Show the services and their health
	@$(COMPOSE_ALL) ps

reload: ## Re-read the configuration of SERVICE (prometheus, nginx) without a restart
	@case "$(SERVICE)" in prometheus|nginx) ;; *) echo "reload: SERVICE=$(SERVICE) is not allowed; allowed: prometheus, nginx" >&2; exit 2 ;; esac
	@$(COMPOSE_ALL) kill -s HUP $(SERVICE)
	@echo "reload: sent SIGHUP to $(SERVICE)"

AMTOOL = $(COMPOSE_ALL) exec -T alertmanager \
	amtool --alertmanager.url=http://127.0.0.1:9093
alerts: ## List the alerts Alertmanager holds, and the silences
	@$(AMTOOL) alert query --active --silenced --inhibited
	@echo; $(AMTOOL) silence query

SILENCE_FOR = $(or $(FOR),2h)
silence: ## Hold back alert ALERT for FOR (default 2h): make silence ALERT=FlaskTargetDown FOR=30m
	@[ -n "$(ALERT)" ] || { echo "silence: ALERT is not set; allowed: an alert name, such as FlaskTargetDown (see make alerts)" >&2; exit 2; }
	@echo "$(ALERT)" | grep -Eq '^[A-Za-z_][A-Za-z0-9_]*$$' || { echo "silence: ALERT=$(ALERT) is not an alert name; allowed: letters, digits, _" >&2; exit 2; }
	@echo "$(SILENCE_FOR)" | grep -Eq '^([0-9]+(m|h|d|w))+$$' || { echo "silence: FOR=$(FOR) is not a duration; allowed: for example 30m, 2h, 1d" >&2; exit 2; }
	@$(AMTOOL) silence add alertname="$(ALERT)" --duration="$(SILENCE_FOR)" \
	  --author="$${USER:-make}" --comment="make silence ALERT=$(ALERT) FOR=$(SILENCE_FOR)"

logs: ## Follow the logs of every service (SERVICE=name for one)
	@$(COMPOSE_ALL) logs -f --tail=100 $(SERVICE)

## —— A plain host, no containers (README: "systemd: on a plain Linux host") ————————————
install-systemd: ## As root: install APP_DIR (APP_MODULE, APP_SERVER) as a systemd service behind this host's Nginx
	@# APP_SERVER only when given: otherwise install.sh keeps the one installed before.
	@$(if $(APP_DIR),APP_DIR="$(abspath $(APP_DIR))") $(if $(APP_MODULE),APP_MODULE="$(APP_MODULE)") \
	  $(if $(filter command line environment,$(origin APP_SERVER)),APP_SERVER="$(APP_SERVER)") \
	  sh deploy/systemd/install.sh

## —— Docker Swarm (README: "Run on several machines") ————————————————————————
SWARM_DIR := build/swarm
STACK ?= $(PROJECT)
# never: use the images each node has (no registry); always: pin each tag to its registry digest.
SWARM_RESOLVE_IMAGE ?= always
swarm-stack: .env ## Write build/swarm/stack.yml for PROFILE from compose.yaml and compose/swarm.yaml
	@[ "$(PROXY)" = nginx ] || { echo "swarm-stack: PROXY=$(PROXY) is not allowed on Swarm; allowed: nginx" >&2; exit 2; }
	@$(COMPOSE_BASE) -f compose/compose.yaml -f compose/swarm.yaml $(PROFILE_FLAGS) config --format json \
	  | $(PYTHON) scripts/swarm_stack.py --out $(SWARM_DIR)

swarm-deploy: swarm-stack ## Deploy or update the stack on the swarm DOCKER_HOST (or the docker context) points at
	@docker stack deploy --prune --with-registry-auth --resolve-image $(SWARM_RESOLVE_IMAGE) \
	  -c $(SWARM_DIR)/stack.yml $(STACK); rc=$$?; rm -rf $(SWARM_DIR)/secrets; exit $$rc

swarm-update: ## Roll IMAGE out to the app's replicas one at a time (rolls back by itself if one fails)
	@[ -n "$(IMAGE)" ] || { echo "swarm-update: IMAGE is not set; allowed: an image name, such as registry.example.com/shop:1.3" >&2; exit 2; }
	@docker service update --detach=false --with-registry-auth $(if $(filter never,$(SWARM_RESOLVE_IMAGE)),--no-resolve-image) \
	  --image "$(IMAGE)" $(STACK)_app

swarm-rm: ## Remove the stack from the swarm (volumes stay on their nodes)
	@docker stack rm $(STACK)

images-airgap: ## Build Debian-based images (Python, Nginx, Prometheus) from a Debian mirror, no registry
	@bash scripts/airgap-images.sh

## —— Development —————————————————————————————————————————————————————————
$(VENV)/.installed: requirements-dev.txt requirements.txt app/requirements.txt examples/bookshelf/requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q -r requirements-dev.txt
	@$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $@

# Upstream's published types (Grafana dashboards, Elasticsearch bodies), pinned by package-lock.json.
TYPECHECK := tests/typecheck
$(TYPECHECK)/node_modules/.installed: $(TYPECHECK)/package-lock.json $(TYPECHECK)/package.json $(TYPECHECK)/fetch-vendored-types.sh
	@command -v npm >/dev/null || { echo "npm is missing: the type checks need Node.js 18+ and npm (apt-get install nodejs npm)" >&2; exit 1; }
	@npm ci --prefix $(TYPECHECK) --no-audit --no-fund --loglevel=error
	@$(TYPECHECK)/fetch-vendored-types.sh
	@touch $@

venv: $(VENV)/.installed $(TYPECHECK)/node_modules/.installed ## Create .venv with the pinned test and lint tools, and the type packages

test: venv build-ca ## Run every test tier (unit, config, integration)
	@$(PY) -m pytest tests

test-unit: venv ## Unit tests: no Docker
	@$(PY) -m pytest tests/unit

test-config: venv build-ca ## Static checks: compose config per profile, nginx -t, promtool, JSON/YAML
	@$(PY) -m pytest tests/config

test-integration: venv build-ca ## Integration tests: real containers per profile (testcontainers)
	@$(PY) -m pytest tests/integration

test-e2e: venv build-ca ## On a host with registry access: also the Grafana, Elastic and upstream-image tests, none may skip
	@REQUIRED_TIERS=config,integration,config:registry,integration:registry $(PY) -m pytest tests/config tests/integration

lint: venv ## Lint: ruff and bandit (Python), hadolint (Dockerfiles), yamllint (YAML)
	@$(PY) -m pytest -q tests/unit/test_lint.py

bench: venv build-ca ## Measure what instrumentation costs; writes docs/benchmarks.md (about 27 min; needs wrk, valgrind)
	@$(PY) -m pip install -q -r requirements-bench.txt
	@$(PY) -m bench.run $(BENCH_ARGS)

lock: ## Re-pin requirements.txt (flaskobs, its dependencies and the image's extras) from pyproject.toml
	@d=$$(mktemp -d); $(PYTHON) -m venv $$d; $$d/bin/pip install -q '.[gevent,uwsgi]'; \
	 { echo "# flaskobs and its dependencies, gevent and uWSGI, pinned: what the app image installs (regenerate: make lock)."; \
	   $$d/bin/pip freeze --exclude flaskobs; } > requirements.txt; \
	 rm -rf $$d build flaskobs.egg-info; echo "lock: wrote requirements.txt"

clean: ## Remove containers and volumes of this project, and local caches (keeps .env)
	@$(COMPOSE_ALL) down --volumes --remove-orphans || true
	@rm -rf .build build dist .pytest_cache .ruff_cache
	@find . -name __pycache__ -prune -exec rm -rf {} +
