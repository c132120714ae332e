# The two commands a newcomer runs: `make run` and `make test`. Both set up .venv themselves.
# The local OCR engine (rapidocr-onnxruntime) ships wheels for Python 3.11 and 3.12 only.
PYTHON ?= $(shell for p in python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov pins exact versions of boto3 and other libraries the project also uses: it gets a
# virtualenv of its own so that it never decides which boto3 docpipe is tested with.
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed

.PHONY: run test lint clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "docpipe needs Python 3.11 or 3.12 (or set PYTHON=/path/to/python3.12)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

$(TOOLS_STAMP):
	@test -n "$(PYTHON)" || { echo "docpipe needs Python 3.11 or 3.12 (or set PYTHON=/path/to/python3.12)"; exit 1; }
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet 'checkov>=3.2,<4'
	@touch $@

run: $(STAMP)
	$(BIN)/docpipe local run samples/*

# checkov exits non-zero on any finding that is not suppressed (with a reason) in the template's
# Metadata; --skip-download keeps it offline (no Prisma Cloud guidelines or policies).
test: $(STAMP) $(TOOLS_STAMP)
	$(BIN)/python -m pytest
	$(BIN)/cfn-lint template.yaml
	$(TOOLS)/bin/checkov -f template.yaml --framework cloudformation --quiet --compact --skip-download

clean:
	rm -rf $(VENV) $(TOOLS) out .pytest_cache
