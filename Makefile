# The two commands a newcomer runs: `make run` and `make test`. Both set up .venv themselves.
# The local OCR engine (rapidocr-onnxruntime) ships wheels for Python 3.11 and 3.12 only.
PYTHON ?= $(shell for p in python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "docpipe needs Python 3.11 or 3.12 (or set PYTHON=/path/to/python3.12)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

run: $(STAMP)
	$(BIN)/docpipe local run samples/*

test: $(STAMP)
	$(BIN)/python -m pytest
	$(BIN)/cfn-lint template.yaml

clean:
	rm -rf $(VENV) out .pytest_cache
