# Two commands do all set-up on a fresh machine: `make compare` and `make test`.
# Each creates .venv and installs the pinned project on first use, and skips that
# while pyproject.toml and constraints.txt are unchanged.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: compare test bench report clean

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

compare: $(INSTALLED)
	$(PY) scripts/compare.py --config configs/compare/default.yaml

test: $(INSTALLED)
	WANDB_MODE=offline $(PY) -m pytest -q

bench: $(INSTALLED)
	$(PY) scripts/bench.py

report: $(INSTALLED)
	$(PY) scripts/report.py

clean:
	rm -rf $(VENV) .cache lightning_logs wandb
