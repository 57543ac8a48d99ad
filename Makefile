# make demo / make test / make bench: each creates .venv when missing and installs seqcnn into it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.seqcnn-installed

.PHONY: install test demo bench clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

demo: $(STAMP)
	PATH="$(abspath $(VENV))/bin:$$PATH" bash scripts/demo.sh

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[test,bench]"
	PATH="$(abspath $(VENV))/bin:$$PATH" bash benchmarks/run_all.sh

clean:
	rm -rf demo .cache/seqcnn-demo
