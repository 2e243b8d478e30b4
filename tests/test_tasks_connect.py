"""connect(module, data): each side gets what it needs before the trainer runs, without looking through it."""

from __future__ import annotations

from pathlib import Path

import pytest
from tasks_fixtures import classification_files, hf_backbone

from pretrain.data.sources import DataSource
from tasks.base import connect
from tasks.classification.data import ClassificationDataModule
from tasks.classification.module import ClassificationModule


def test_connect_attaches_the_tokenizer_and_builds_the_label_head(tmp_path: Path) -> None:
    module = ClassificationModule(hf_backbone("bert", tmp_path / "model"))
    files = classification_files(tmp_path)
    splits = {split: str(path) for split, path in files.items() if split != "train"}
    data = ClassificationDataModule(source=DataSource(name=str(files["train"]), splits=splits), max_length=24)
    with pytest.raises(RuntimeError, match="connect"):
        data.setup("fit")
    with pytest.raises(RuntimeError, match="connect"):
        module.setup("fit")
    connect(module, data)
    assert data.tokenizer is module.tokenizer and data.family == "bert"
    assert module.head.classifier.out_features == len(data.label_names) >= 2  # label head sized by the data's labels
    head = module.head
    connect(module, data)  # a second connect (e.g. test after fit) keeps the trained head
    assert module.head is head
    data.setup("fit")
    module.setup("fit")
    assert data.examples["train"][0]["input_ids"][0] == module.special.cls
