"""Task data: file readers, CoNLL quirks, per-family input layout, and bad input named by file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tasks_fixtures import tokenizer, write_lines

from pretrain.data.sources import DataSource
from tasks.classification.data import ClassificationDataModule
from tasks.encoding import IGNORE_INDEX, SpecialTokens, pad_with_mask
from tasks.generation.data import GenerationDataModule
from tasks.ner.conll import read_conll
from tasks.ner.data import NerDataModule


@pytest.fixture(scope="module")
def wordpiece(tmp_path_factory: pytest.TempPathFactory):
    return tokenizer("wordpiece", tmp_path_factory.mktemp("tok"))


def _classification(tmp_path: Path, rows: dict[str, list[str]], columns: dict[str, str] | None = None,
                    **options) -> ClassificationDataModule:
    files = {split: str(write_lines(tmp_path / f"{split}.tsv", lines)) for split, lines in rows.items()}
    source = DataSource(files.pop("train"), splits=files, columns=columns or {})
    return ClassificationDataModule(source, **options)


def test_read_conll_docstart_whitespace_separators_and_columns(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "a.conll", ["-DOCSTART- -X- O O", "", "Alice NNP B-PER", "met VB O", "\t",
                                              "Paris NNP B-LOC", "", ""])
    sentences = read_conll(path, token_column=0, tag_column=2)
    assert [s.tokens for s in sentences] == [["Alice", "met"], ["Paris"]]
    assert [s.tags for s in sentences] == [["B-PER", "O"], ["B-LOC"]]
    assert sentences[1].where == f"{path}:6"


def test_malformed_conll_line_names_file_and_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "bad.conll", ["Alice B-PER", "met"])
    with pytest.raises(ValueError, match=rf"{path}:2: expected at least 2"):
        read_conll(path)


def test_bert_pair_layout_and_truncation_count(tmp_path: Path, wordpiece) -> None:
    long_text = " ".join(["the cat sat"] * 20)
    dm = _classification(tmp_path, {"train": ["a\tb\tlabel", f"{long_text}\tParis\tx", "the cat\tBob\ty"]},
                         columns={"text": "a", "text_pair": "b"}, max_length=16)
    dm.attach(wordpiece, "bert", 128)
    dm.prepare_labels()
    dm.truncated["train"] = 0
    examples = dm.encode(dm.rows("train"), "train")
    special = SpecialTokens.of(wordpiece, "bert")
    assert dm.label_names == ["x", "y"] and [e["label"] for e in examples] == [0, 1]
    assert len(examples[0]["input_ids"]) == 16 and dm.truncated["train"] == 1
    ids, types = examples[1]["input_ids"], examples[1]["token_type_ids"]
    assert ids[0] == special.cls and ids[-1] == special.sep and ids.count(special.sep) == 2
    assert types[: ids.index(special.sep) + 1] == [0] * (ids.index(special.sep) + 1) and types[-1] == 1


def test_gpt_single_text_ends_with_extract_token(tmp_path: Path, wordpiece) -> None:
    dm = _classification(tmp_path, {"train": ["text\tlabel", "the cat\tx", "Paris\ty"]})
    dm.attach(wordpiece, "gpt", 128)
    dm.prepare_labels()
    dm.truncated["train"] = 0
    example = dm.encode(dm.rows("train"), "train")[0]
    assert example["input_ids"] == wordpiece("the cat", add_special_tokens=False)["input_ids"] + [
        SpecialTokens.of(wordpiece, "gpt").eos]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["text\tlabel", "the cat\tz"], r"validation.tsv:2: label 'z' is not one of the train labels"),
        (["text\tlabel", " \tx"], r"validation.tsv:2: column 'text' must be a non-empty text"),
        (["words\tlabel", "the cat\tx"], r"validation.tsv:2: no column 'text'"),
        (["text\tlabel", "the cat\tx\textra"], r"validation.tsv:2: expected 2 fields"),
    ],
)
def test_classification_bad_input(tmp_path: Path, wordpiece, lines: list[str], message: str) -> None:
    dm = _classification(tmp_path, {"train": ["text\tlabel", "the cat\tx", "Paris\ty"], "validation": lines})
    dm.attach(wordpiece, "bert", 128)
    with pytest.raises(ValueError, match=message):
        dm.setup("validate")


def test_ner_labels_on_first_subword_for_bert_and_unknown_tag_error(tmp_path: Path, wordpiece) -> None:
    train = write_lines(tmp_path / "train.conll", ["Alice B-PER", "met O", "Berlinbirds B-LOC", ""])
    dm = NerDataModule(DataSource(str(train), splits={"validation": str(train)}))
    dm.attach(wordpiece, "bert", 128)
    dm.setup("fit")
    example = dm.examples["train"][0]
    index = {name: i for i, name in enumerate(dm.label_names)}
    labelled = [(p, label) for p, label in enumerate(example["labels"]) if label != IGNORE_INDEX]
    assert [label for _, label in labelled] == [index["B-PER"], index["O"], index["B-LOC"]]
    assert [p for p, _ in labelled] == example["word_positions"] and example["word_positions"][0] == 1  # after [CLS]
    bad = write_lines(tmp_path / "test.conll", ["Alice B-ORG", ""])
    dm = NerDataModule(DataSource(str(train), splits={"test": str(bad)}))
    dm.attach(wordpiece, "bert", 128)
    with pytest.raises(ValueError, match=rf"{bad}:1: tag 'B-ORG' is not one of the train tags"):
        dm.setup("test")


def test_generation_groups_references_and_masks_the_source_for_gpt(tmp_path: Path, wordpiece) -> None:
    rows = [{"source": "the cat", "target": "cat"}, {"source": "the cat", "target": "a cat"},
            {"source": "Paris", "target": ["city", "town"]}]
    path = write_lines(tmp_path / "g.jsonl", [json.dumps(r) for r in rows])
    dm = GenerationDataModule(DataSource(str(path), splits={"test": str(path)}), max_length=16, max_target_length=8)
    dm.attach(wordpiece, "gpt", 128)
    dm.setup("test")
    test = dm.examples["test"]
    assert [e["references"] for e in test] == [["cat", "a cat"], ["city", "town"]]
    special = SpecialTokens.of(wordpiece, "gpt")
    first = test[0]
    n_prompt = len(first["prompt_ids"])
    assert first["prompt_ids"][-1] == special.sep and first["input_ids"][:n_prompt] == first["prompt_ids"]
    assert first["labels"][:n_prompt] == [IGNORE_INDEX] * n_prompt  # loss on the target only
    assert first["labels"][n_prompt:] == first["input_ids"][n_prompt:]
    batch = dm.collate(test)
    assert batch["prompt_mask"][:, -1].tolist() == [1, 1]  # left-padded prompts end together
    for family in ("gpt", "bert"):  # both read source and target in one sequence of positions
        with pytest.raises(ValueError, match=f"exceeds the {family} backbone's max_positions=20"):
            dm.attach(wordpiece, family, 20)


def test_each_test_example_names_its_document(tmp_path: Path, wordpiece) -> None:
    """A document column the source maps (or one named "document") travels with each encoded example, in the test
    pass's order; without one there are no documents (the bootstrap makes each row its own)."""
    lines = ["text\tlabel\tdoc", "the cat\tx\td1", "Paris\ty\td1", "the dog\tx\td2", "Bob\ty\t"]
    dm = _classification(tmp_path, {"train": lines, "test": lines}, columns={"document": "doc"})
    dm.attach(wordpiece, "bert", 128)
    dm.setup("test")
    assert dm.documents("test") == ["d1", "d1", "d2", "row 3"]  # a row without one is its own
    (tmp_path / "plain").mkdir()
    plain = _classification(tmp_path / "plain", {"train": ["text\tlabel", "the cat\tx", "Paris\ty"],
                                                 "test": ["text\tlabel", "the cat\tx"]})
    plain.attach(wordpiece, "bert", 128)
    plain.setup("test")
    assert plain.documents("test") is None
    rows = [{"source": "the cat", "target": "cat", "document": "a"}, {"source": "Paris", "target": "city",
                                                                      "document": "b"},
            {"source": "the cat", "target": "a cat", "document": "c"}]
    path = write_lines(tmp_path / "g.jsonl", [json.dumps(r) for r in rows])
    generation = GenerationDataModule(DataSource(str(path), splits={"test": str(path)}), max_length=16,
                                      max_target_length=8)
    generation.attach(wordpiece, "gpt", 128)
    generation.setup("test")
    assert generation.documents("test") == ["a", "b"]  # one example per source: its first row's document


def test_builtin_label_names_come_from_the_class_label_feature() -> None:
    """Built-in (and hub) sets carry ClassLabel features: their names and order are the label space."""
    from tasks.classification.data import ClassificationDataModule
    from tasks.ner.data import NerDataModule

    classification = ClassificationDataModule(source="builtin")
    classification.prepare_labels()
    expected = classification.hf_split("train").features["label"].names
    assert classification.label_names == expected and len(expected) == 8
    ner = NerDataModule(source="builtin")
    ner.prepare_labels()
    assert ner.label_names == ner.hf_split("train").features["ner_tags"].feature.names
    assert ner.label_names[0] == "O"


def test_pad_with_mask_marks_real_tokens_on_either_side() -> None:
    ids, mask = pad_with_mask([[5, 6, 7], [8]], 0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    ids, mask = pad_with_mask([[5, 6, 7], [8]], 0, left=True)  # batched causal decoding
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    assert ids.dtype == mask.dtype == torch.long
