"""The local plan (configs/compare/local.yaml) over files in their usual formats: raw WikiText, SST-2 TSV,
CoNLL column files and source/target JSONL validate, load, and get the trivial baselines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pretrain.compare.analysis.baselines import task_baseline
from pretrain.compare.planning.plan import parse_plan, validate
from pretrain.data.sources import load_corpus

REPO = Path(__file__).resolve().parents[1]
PLAN = ["--config", str(REPO / "configs/compare/default.yaml"), "--config", str(REPO / "configs/compare/local.yaml")]


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "configs").symlink_to(REPO / "configs")
    data = tmp_path / "data"
    for split, n in (("train", 30), ("valid", 6), ("test", 6)):
        paragraphs = [f" The river number {i} runs through valley {i % 5} . It was named in {1900 + i} ."
                      for i in range(n)]
        _write(data / f"wikitext/wiki.{split}.raw",
               [" ", " = Rivers = ", " "] + [p for x in paragraphs for p in (x, " ")])
    _write(data / "sst2/train.tsv", ["sentence\tlabel", "a charming film \t1", "dull and slow \t0", "a joy \t1"])
    _write(data / "sst2/dev.tsv", ["sentence\tlabel", "warm and funny \t1", "tedious \t0"])
    _write(data / "sst2/test.tsv", ["sentence\tlabel", "lovely \t1", "boring \t0", "great \t1", "bad \t0"])
    conll = ["-DOCSTART- O", "", "Alice B-PER", "met O", "Bob B-PER", "", "Paris B-LOC", "is O", "big O", ""]
    for split in ("train", "dev"):
        _write(data / f"conll/{split}.conll", conll)
    _write(data / "conll/test.conll", ["Alice B-PER", "saw O", "Rome B-LOC", ""])
    rows = [{"source": "def add(a, b): return a + b", "target": "add two numbers"},
            {"source": "def sub(a, b): return a - b", "target": "subtract two numbers"}]
    for split in ("train", "validation", "test"):
        _write(data / f"generation/{split}.jsonl", [json.dumps(r) for r in rows])
    return tmp_path


def test_local_plan_validates_and_every_task_gets_its_baselines(root: Path) -> None:
    resolved = validate(parse_plan(PLAN), root)
    corpus = load_corpus(resolved.pretrain_data, cache_dir=root / "cache")
    assert corpus["test"].num_rows == 7 and " = Rivers = " in corpus["train"]["text"]  # blank lines dropped
    classification = task_baseline("classification", resolved.task_data["classification"])
    assert classification["baseline/majority_acc"] == pytest.approx(0.5)  # majority "1" on 2 of 4 test rows
    ner = task_baseline("ner", resolved.task_data["ner"])
    # Unigram tagger: Alice -> B-PER and saw -> O right, Rome unseen -> O: 1 of 2 entities, precision 1.
    assert ner["baseline/unigram_tagger_f1"] == pytest.approx(2 / 3)
    generation = task_baseline("generation", resolved.task_data["generation"])
    assert generation["baseline/constant_rougeL"] > 0 and "baseline/copy_rougeL" in generation


def test_a_missing_local_split_names_the_field_and_the_file(root: Path) -> None:
    (root / "data/sst2/dev.tsv").unlink()
    with pytest.raises(ValueError, match=r"finetune.classification_data.splits.validation='data/sst2/dev.tsv': "
                                         r"no local file matches"):
        validate(parse_plan(PLAN), root)
    (root / "data/sst2/dev.tsv").write_text("text\tlabel\nwarm \t1\n")
    with pytest.raises(ValueError, match=r"finetune.classification_data: .*dev.tsv:2: no column 'sentence' "
                                         r"\(read as 'text'\)"):
        validate(parse_plan(PLAN), root)
