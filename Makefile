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

setup: $(VENV)/.installed

run: setup
	$(VPY) main.py

test: setup
	QT_QPA_PLATFORM=offscreen $(VPY) -m pytest -q --durations=15

# everything but the long tests (overfit, resume, stop signals, DDP, the refcount probe)
test-fast: setup
	QT_QPA_PLATFORM=offscreen $(VPY) -m pytest -q -m "not slow"

bench: setup
	$(VPY) benchmarks/latency.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
