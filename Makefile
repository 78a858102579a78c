# Two commands do all the set-up on a fresh machine:
#   make demo   installs into .venv and runs the main job
#   make test   installs into .venv and runs the whole test suite
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench clean

$(STAMP): pyproject.toml constraints-cpu.txt scripts/setup.sh
	VENV=$(VENV) bash scripts/setup.sh
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/vlm-rewards demo

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/bench_scorer.py

clean:
	rm -rf $(VENV) .pytest_cache
