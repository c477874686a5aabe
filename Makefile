# Two commands on a fresh machine: `make run` and `make test`.
PY ?= python3.11
VENV := .venv
VPY := $(VENV)/bin/python
# The CPU torch wheel lies in /opt/wheels on our machines; elsewhere pip uses the CPU index.
PIP_EXTRA := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,--extra-index-url https://download.pytorch.org/whl/cpu)

.PHONY: setup run test test-fast bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q $(PIP_EXTRA) -r requirements-dev.txt
	$(VPY) -m pip install -q --no-deps -e .
	touch $@

# The PLC peers of tests/test_plc.py (node-opcua, modbus-serial); skipped with a note where npm is missing
tests/plc_node/node_modules/.package-lock.json: tests/plc_node/package-lock.json
	command -v npm >/dev/null && npm ci --prefix tests/plc_node --omit=optional --no-audit --no-fund --loglevel=error \
	    || echo "npm not found: tests/test_plc.py will be skipped (apt-get install nodejs npm)"

setup: $(VENV)/.installed

run: setup
	$(VPY) main.py

test: setup tests/plc_node/node_modules/.package-lock.json
	QT_QPA_PLATFORM=offscreen $(VPY) -m pytest -q -n 2 --durations=15

# everything but the long tests (overfit, resume, stop signals, DDP, the refcount probe)
test-fast: setup
	QT_QPA_PLATFORM=offscreen $(VPY) -m pytest -q -n 2 -m "not slow"

bench: setup
	$(VPY) benchmarks/latency.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
