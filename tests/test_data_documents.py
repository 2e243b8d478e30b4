"""Rows into documents: WikiText articles at their headings, runs of lines, and BERT's examples filling the
sequence on WikiText-format text once its rows are grouped."""

import random
from pathlib import Path

import datasets
import pyarrow as pa
import pytest

from pretrain.data.datamodules import BertDataModule
from pretrain.data.documents import document_ids, group_documents
from pretrain.data.sources import DataSource, load_corpus

WORDS = "the a model of text river city north war film song game team year first later".split()


def _wikitext_lines(rng: random.Random, articles: int) -> list[str]:
    """WikiText raw layout: ' = Title = ', blank lines, paragraphs of a few sentences, ' = = Section = = '."""
    lines: list[str] = []
    for article in range(articles):
        lines += [" \n", f" = Article {article} = \n", " \n"]
        for section in range(2):
            lines += [f" = = Section {section} = = \n", " \n"]
            for _ in range(2):
                sentences = (" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12))) + " ." for _ in range(3))
                lines += [" " + " ".join(sentences) + " \n", " \n"]
    return lines


def test_wikitext_rows_are_grouped_into_articles_at_level_one_headings() -> None:
    lines = [" \n", " = Robert Boulter = \n", " \n", " Robert Boulter is an actor . \n", " = = Career = = \n",
             " In 2000 ... \n", " = = = 2000 – 2005 = = = \n", " = Du Fu = \n", " Du Fu was a poet . \n"]
    assert document_ids(pa.array(lines), "wikitext").tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 1]
    assert document_ids(pa.array(["a", "b", "c", "d", "e"]), "lines:2").tolist() == [0, 0, 1, 1, 2]


def test_a_stream_is_grouped_as_the_same_rows_in_memory() -> None:
    lines = _wikitext_lines(random.Random(0), 5)
    table = datasets.Dataset.from_dict({"text": lines})
    stream = datasets.IterableDataset.from_generator(lambda: ({"text": t} for t in lines))
    for how in ("wikitext", "lines:7"):
        in_memory = group_documents(table, how, "t")["document"]
        streamed = [row["document"] for row in group_documents(stream, how, "t")]
        assert streamed == in_memory and len(set(in_memory)) > 1


def test_a_bad_grouping_or_two_groupings_fail_in_one_line() -> None:
    with pytest.raises(ValueError, match=r"documents='articles': expected 'wikitext'.*'lines:N'"):
        DataSource("wiki.raw", documents="articles")
    with pytest.raises(ValueError, match="lines:0"):
        DataSource("wiki.raw", documents="lines:0")
    named = datasets.Dataset.from_dict({"text": ["a"], "document": ["d"]})
    with pytest.raises(ValueError, match=r"rows\.jsonl: has a 'document' column and documents='wikitext'"):
        group_documents(named, "wikitext", "rows.jsonl")


def test_bert_fills_its_sequences_on_wikitext_text_once_rows_are_articles(tmp_path: Path) -> None:
    """Each paragraph its own document leaves most of a 128-token example padding; articles fill it (>= 90%)."""
    rng = random.Random(1)
    files = {}
    for split, articles in (("train", 30), ("validation", 6), ("test", 6)):
        files[split] = tmp_path / f"wiki.{split}.raw"
        files[split].write_text("".join(_wikitext_lines(rng, articles)))
    splits = {"validation": str(files["validation"]), "test": str(files["test"])}
    shares = {}
    for documents in (None, "wikitext"):
        source = DataSource(str(files["train"]), splits=splits, documents=documents)
        module = BertDataModule(source=source, vocab_size=300, max_length=128, batch_size=4, dupe_factor=1,
                                cache_dir=str(tmp_path / "cache"))
        module.setup("fit")
        shares[documents] = module.example_statistics("train").mean_tokens / 128
    assert shares["wikitext"] >= 0.9 and shares[None] < 0.6, shares


def test_carving_keeps_each_document_in_one_split(tmp_path: Path) -> None:
    """Lines with no validation or test file: the held-out splits are carved by document, not by row."""
    path = tmp_path / "books.txt"
    path.write_text("\n".join(f"sentence {i} of the books ." for i in range(4000)) + "\n")
    corpus = load_corpus(DataSource(str(path), documents="lines:40"), cache_dir=tmp_path / "cache")
    seen = {split: set(corpus[split]["document"]) for split in ("train", "validation", "test")}
    assert seen["validation"] and seen["test"]
    assert not (seen["train"] & seen["validation"]) and not (seen["train"] & seen["test"])
    assert all(len(corpus["train"].filter(lambda d, k=k: d == k, input_columns="document")) == 40
               for k in list(seen["train"])[:3])
