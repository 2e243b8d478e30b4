# Two commands do all set-up on a fresh machine: `make compare` and `make test`.
# Each creates .venv and installs the pinned project on first use, and skips that
# while pyproject.toml and constraints.txt are unchanged.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: compare arms ladder dry-run gpu-check test lint bench report clean

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

compare: $(INSTALLED)
	$(PY) scripts/compare.py --config configs/compare/default.yaml

# Every objective arm (bert, gpt, mlm, clm-mlm, gpt-bert) in one plan on the built-in corpus (configs/compare/arms.yaml).
arms: $(INSTALLED)
	$(PY) scripts/compare.py --config configs/compare/default.yaml --config configs/compare/arms.yaml

# The size ladder (configs/compare/ladder.yaml): the default protocol at three matched sizes on the built-in corpus,
# then the BERT - GPT gap per task against pretraining FLOPs (reports/ladder/ladder.md).
ladder: $(INSTALLED)
	$(PY) scripts/compare.py --config configs/compare/default.yaml --config configs/compare/ladder.yaml

# The real plan (configs/compare/real.yaml) end to end on a CPU before renting GPUs: its data sources as small
# synthetic copies in the hub's schemas, tiny models, a few steps, subprocess runs, 2-process DDP (gloo).
dry-run: $(INSTALLED)
	$(PY) -m pretrain.data.sample_copies runs/dry-run-datasets
	$(PY) scripts/compare.py --config configs/compare/real.yaml --config configs/compare/dry-run.yaml

# One GPU, a few minutes, before renting many: CUDA-only tests, gpt2-small / bert-base throughput and MFU against
# Hugging Face's, a 100-step pretraining with an exact resume, a one-rank NCCL DDP launch; one JSON on stdout.
# Exits at once, non-zero, on a machine without CUDA.
gpu-check: $(INSTALLED)
	$(PY) scripts/gpu_check.py

test: $(INSTALLED)
	WANDB_MODE=offline $(PY) -m pytest -q

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .

bench: $(INSTALLED)
	$(PY) scripts/bench.py

report: $(INSTALLED)
	$(PY) scripts/report.py

clean:
	rm -rf $(VENV) .cache lightning_logs wandb
