"""load_corpus on local files: formats, carved splits, and every bad input named clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pretrain.data.sources import DataSource, load_corpus


def _lines(n: int) -> list[str]:
    return [f"Document number {i} talks about topic {i % 7} in two sentences. This is the second one."
            for i in range(n)]


def test_txt_glob_gives_three_deterministic_splits(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("\n".join(_lines(150)) + "\n\n   \n")
    (tmp_path / "b.txt").write_text("\n".join(_lines(300)[150:]))
    first = load_corpus(str(tmp_path / "*.txt"), cache_dir=tmp_path / "cache")
    second = load_corpus(str(tmp_path / "*.txt"), cache_dir=tmp_path / "cache2")
    assert set(first) == {"train", "validation", "test"}
    for split in first:
        assert first[split]["text"] == second[split]["text"] and len(first[split]) > 0
    texts = [t for split in first.values() for t in split["text"]]
    assert sorted(texts) == sorted(_lines(300)), "every non-blank line is in exactly one split"


def test_jsonl_with_text_column_and_explicit_splits(tmp_path: Path) -> None:
    for name, rows in (("train", _lines(20)), ("dev", _lines(5)), ("test", _lines(4))):
        (tmp_path / f"{name}.jsonl").write_text("\n".join(json.dumps({"body": t, "n": 1}) for t in rows))
    source = DataSource(str(tmp_path / "train.jsonl"), columns={"text": "body"},
                        splits={"validation": str(tmp_path / "dev.jsonl"), "test": str(tmp_path / "test.jsonl")})
    corpus = load_corpus(source, cache_dir=tmp_path / "cache")
    assert [len(corpus[s]) for s in ("train", "validation", "test")] == [20, 5, 4]
    assert corpus["train"].column_names == ["text"]


def test_csv_and_parquet(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"text": _lines(100), "label": [0] * 100})
    frame.to_csv(tmp_path / "c.csv", index=False)
    frame.to_parquet(tmp_path / "p.parquet")
    for file in ("c.csv", "p.parquet"):
        corpus = load_corpus(str(tmp_path / file), cache_dir=tmp_path / "cache")
        assert sum(len(s) for s in corpus.values()) == 100


def test_local_dataset_directory_goes_through_the_hub_loader(tmp_path: Path) -> None:
    folder = tmp_path / "my_dataset"
    folder.mkdir()
    (folder / "train.jsonl").write_text("\n".join(json.dumps({"text": t}) for t in _lines(40)))
    (folder / "validation.jsonl").write_text("\n".join(json.dumps({"text": t}) for t in _lines(3)))
    corpus = load_corpus(str(folder), cache_dir=tmp_path / "cache")
    assert len(corpus["validation"]) == 3 and len(corpus["train"]) + len(corpus["test"]) == 40


def test_streaming_local_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("\n".join(_lines(200)))
    corpus = load_corpus(str(tmp_path / "a.txt"), streaming=True, cache_dir=tmp_path / "cache")
    streamed = [row["text"] for split in corpus.values() for row in split]
    assert sorted(streamed) == sorted(_lines(200))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no file matches '.*missing\.txt'"):
        load_corpus(str(tmp_path / "missing.txt"), cache_dir=tmp_path / "cache")


@pytest.mark.parametrize(("name", "content", "message"), [
    pytest.param("data.xml", b"<doc>text</doc>", r"unsupported file type '\.xml' for .*data\.xml: expected one of",
                 id="unsupported_file_type"),
    pytest.param("d.jsonl", "\n".join(json.dumps({"sentence": t, "label": 1}) for t in _lines(30)).encode(),
                 r"d\.jsonl: no column 'text'; available columns: \['sentence', 'label'\]",
                 id="missing_text_column_lists_the_available_ones"),
    pytest.param("bad.txt", b"fine line\nsecond line caf\xe9 latin-1\n",
                 r"bad\.txt: line 2 \(byte 25\) is not valid UTF-8", id="undecodable_bytes_name_file_and_line"),
])
def test_unreadable_file_is_a_value_error_naming_it(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_corpus(str(tmp_path / name), cache_dir=tmp_path / "cache")


def test_empty_corpus_and_empty_split(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match=r"empty\.txt.*every file is empty"):
        load_corpus(str(tmp_path / "empty.txt"), cache_dir=tmp_path / "cache")
    (tmp_path / "train.txt").write_text("\n".join(_lines(20)))
    (tmp_path / "blank.txt").write_text("\n  \n\n")
    with pytest.raises(ValueError, match=r"blank\.txt: the validation split has no documents"):
        load_corpus(DataSource(str(tmp_path / "train.txt"), splits={"validation": str(tmp_path / "blank.txt")}),
                    cache_dir=tmp_path / "cache")
