# plexio — every target installs what it needs first; see README.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NPM_DIRS := tests/interop/js community/web bench/node topology/js

.PHONY: run test lint bench bench-scale bench-smoke bench-gateway install cores system-deps node-deps clean fuzz hostile soak

CORES_BUILT = $(PY) -c 'import plexio._cores as c; print(c.describe())'

# The install compiles the sans-I/O cores with mypyc (hatch_build.py; PLEXIO_MYPYC=0 skips
# it, a failed build installs them as pure Python) and says which build runs.
$(VENV)/.installed: pyproject.toml hatch_build.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[msgpack,redis,fast,uvicorn,pydantic]' --group test
	$(CORES_BUILT)
	touch $@

install: $(VENV)/.installed

# Compile the cores again after editing them (until then they run as pure Python).
cores: install
	$(PY) -m pip install -q --no-deps -e .
	$(CORES_BUILT)

system-deps:
	bash scripts/system-deps.sh

node-deps:
	@for d in $(NPM_DIRS); do \
	  if [ -f $$d/package-lock.json ]; then \
	    if [ ! -d $$d/node_modules ] || [ $$d/package-lock.json -nt $$d/node_modules/.package-lock.json ]; then \
	      echo "npm ci in $$d"; (cd $$d && npm ci --no-audit --no-fund --loglevel=error) || exit 1; \
	    fi; \
	  fi; \
	done

lint: install
	$(VENV)/bin/ruff check src tests community bench topology measure fuzz scripts
	$(VENV)/bin/ruff format --check src tests community bench topology measure fuzz scripts
	$(VENV)/bin/mypy src community topology measure scripts fuzz
	$(VENV)/bin/lint-imports

# Coverage is measured per module over the whole suite and held to the floors in
# scripts/coverage_floors.json (scripts/coverage_floor.py --write records new ones).
# coverage.py cannot see into compiled modules: the coverage run loads the cores as pure
# Python (PLEXIO_PURE=1), then their own tests run again on the compiled build, if there is one.
test: install system-deps node-deps lint
	PLEXIO_PURE=1 $(VENV)/bin/pytest --cov --cov-report=term:skip-covered --cov-report=json:coverage.json
	$(PY) scripts/coverage_floor.py coverage.json
	if $(PY) -c 'import sys, plexio._cores as c; sys.exit(not c.compiled())'; then \
	  $(VENV)/bin/pytest -p no:cacheprovider tests/engineio tests/socketio; fi

# WORKERS=N serves the port with N processes (they share a Redis: REDIS_URL, or one of their own)
WORKERS ?= 1
run: install node-deps
	WORKERS=$(WORKERS) $(PY) -m community

bench: install system-deps node-deps
	$(PY) -m bench
	$(PY) -m bench.workers
	$(PY) -m bench.scale

# The most WebSocket connections one process holds (19,900 under a 20,000-file limit) and
# 50,000 over 4 worker processes: RSS and connect CPU per connection, heartbeat CPU.
bench-scale: install
	$(PY) -m bench.scale
	$(PY) -m bench.cluster

bench-smoke: install node-deps
	$(PY) -m bench --smoke --out /tmp/plexio-bench-smoke

# The community gateway's hot path against a framework-free reference (SQLite and PostgreSQL).
bench-gateway: install node-deps
	$(PY) -m bench.gateway

clean:
	rm -rf $(VENV) $(addsuffix /node_modules,$(NPM_DIRS))

# Topology A (namespace per community) vs B (one namespace, rooms): loopback sweeps, a delay
# proxy, Node/Chromium/plexio clients, moving around, a 3-node Redis cluster; writes topology/results/.
.PHONY: topology
topology: install system-deps node-deps
	$(PY) -m topology

# Coverage-guided fuzzing of every decoder (fuzz/targets.py), 1M inputs by default:
# make fuzz FUZZ_RUNS=10000000
FUZZ_RUNS ?= 1000000
fuzz: install
	$(PY) -m pip install -q -e . --group fuzz
	$(PY) -m fuzz.run --runs $(FUZZ_RUNS)

# Hostile clients against a server with default settings (slow consumer, slowloris,
# oversized POST, runaway handlers): prints one JSON line of figures per scenario.
hostile: install
	$(PY) -m bench.hostile --nice -15
	$(PY) -m bench.hostile --nice -15 --server uvicorn slow-consumer oversized-post runaway-handlers

# Soak: 10,000 connections with heartbeats and light traffic (about 5 minutes); RSS and
# CPU per idle connection on two plateaus, fails on growth between them or lost pings.
# A quick run: make soak SOAK_ARGS="--connections 1000 --plateau 10 --hold 10"
SOAK_ARGS ?=
soak: install
	$(PY) -m bench.soak $(SOAK_ARGS)
