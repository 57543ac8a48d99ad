# make demo / make test / make bench: each creates .venv when missing and installs seqcnn into it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.seqcnn-installed

.PHONY: install test demo bench bench-peers clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# Float32 results move in their last digits with the CPU, oneDNN's kernels, threads and batch shapes; a test
# tolerance that holds in one configuration only would fail on another machine. So the numerics tests (marker
# `numerics`, tolerances from tests/numerics.py) run first in a second configuration: oneDNN off, one thread,
# batch sizes 1 and 7 — all but those also marked slow (end-to-end runs that train or scan: a second configuration
# of their arithmetic is covered by the fast tests of the same paths). Then the whole suite, whose summary closes
# the output, after the 25 slowest tests (so a CI log shows where the suite's time goes).
NUMERICS_ENV := TF_ENABLE_ONEDNN_OPTS=0 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 OMP_NUM_THREADS=1 \
	SEQCNN_TEST_BATCH=1,7
# Both passes run in TEST_WORKERS pytest-xdist processes: much of the suite is process start-up, imports and
# small single-threaded steps, so two workers use the second core. On the 2-core machine, a fresh clone: 16.5 min
# for both passes (23.5 with a benchmark running beside it), against 32 serially; the README walk-through (7 min)
# and numba's first compiles set the floor. Not `-n auto`: each worker holds TensorFlow (1-2 GB).
TEST_WORKERS ?= 2

test: $(STAMP)
	@echo "numerics tests, second configuration: $(NUMERICS_ENV)"
	$(NUMERICS_ENV) $(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) -m "numerics and not slow"
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --durations=25

demo: $(STAMP)
	PATH="$(abspath $(VENV))/bin:$$PATH" bash scripts/demo.sh

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[test,bench]"
	PATH="$(abspath $(VENV))/bin:$$PATH" bash benchmarks/run_all.sh

# exact ISM against tangermeme (PyTorch): torch and tangermeme go into their own environment, .venv-bench, so
# seqcnn itself never depends on torch (torch==2.13.0 is the CPU build this machine keeps on disk).
BENCH_VENV ?= .venv-bench
bench-peers:
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet torch==2.13.0 tangermeme==1.6.0
	$(BENCH_VENV)/bin/python -m pip install --quiet -e .
	$(BENCH_VENV)/bin/python benchmarks/bench_ism_peers.py

clean:
	rm -rf demo .cache/seqcnn-demo
