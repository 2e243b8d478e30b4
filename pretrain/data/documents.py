"""How a corpus's rows become documents: the unit BERT's segment pairs are cut from and NSP negatives leave.

Rows that share a ``document`` value (consecutive) are one document; without that column every row is its own.
That is right for the built-in corpus (a row is a docstring) and wrong for the public ones: a WikiText row is a
paragraph or a heading, a BookCorpus row one sentence, so a BERT example cut from one row holds a fraction of
its positions in real tokens (WikiText-2's test file at 512 positions: 16%) while GPT packs its blocks full.
A source names the grouping its rows need (``DataSource.documents``):

- ``wikitext``: articles, a new one at each level-1 heading line (`` = Title = ``; `` = = Section = = `` lines
  stay inside the article), as the data set's own builders read it (Merity et al. 2016);
- ``lines:N``: runs of N consecutive rows, for corpora of single lines in reading order (BookCorpus: sentences
  of consecutive books, with no book boundary in the data);
- None: a ``document`` column when the data has one, else each row its own document.
"""

from __future__ import annotations

import re

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

WIKITEXT = "wikitext"
LINES_PREFIX = "lines:"
# " = Title = " (WikiText's raw rows keep their surrounding spaces and newline); " = = Section = = " is not one.
WIKITEXT_ARTICLE_HEADING = r"^ ?= [^=].* = ?\n?$"
_LINES = re.compile(rf"^{LINES_PREFIX}([1-9][0-9]*)$")


def check_grouping(documents: str | None) -> None:
    """One line naming the value and the choices, before anything loads."""
    if documents is not None and documents != WIKITEXT and not _LINES.match(documents):
        raise ValueError(f"documents={documents!r}: expected {WIKITEXT!r} (articles at ' = Title = ' headings), "
                         f"'{LINES_PREFIX}N' (runs of N consecutive rows, N >= 1) or null (a 'document' column, "
                         "else each row its own document)")


def group_documents(dataset: datasets.Dataset | datasets.IterableDataset, documents: str | None,
                    where: str) -> datasets.Dataset | datasets.IterableDataset:
    """`dataset` (a ``text`` column, rows in corpus order) with a ``document`` column per `documents`; unchanged
    when `documents` is None. A data set that already names its documents is refused (one grouping, not two)."""
    check_grouping(documents)
    if documents is None:
        return dataset
    if "document" in (dataset.column_names or []):
        raise ValueError(f"{where}: has a 'document' column and documents={documents!r}; keep one of them")
    if isinstance(dataset, datasets.IterableDataset):
        return dataset.map(_StreamGrouping(documents), batched=True)
    ids = document_ids(dataset.data.column("text"), documents)
    return dataset.add_column("document", ids.tolist())


def document_ids(texts: pa.ChunkedArray | pa.Array, documents: str) -> np.ndarray:
    """Per row, the index of its document (int64), from the rows' texts in corpus order. Rows before the first
    WikiText heading are document 0 with the first article."""
    check_grouping(documents)
    rows = len(texts)
    lines = _LINES.match(documents)
    if lines:
        return np.arange(rows, dtype=np.int64) // int(lines.group(1))
    return np.maximum(np.cumsum(_article_starts(texts)) - 1, 0)


def _article_starts(texts: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """1 where a row is a WikiText article heading, else 0 (int64)."""
    heading = pc.match_substring_regex(pc.fill_null(texts, ""), WIKITEXT_ARTICLE_HEADING)
    return np.asarray(heading.to_numpy(zero_copy_only=False), dtype=np.int64)


class _StreamGrouping:
    """The same ids for a stream, batch by batch: the row count and the article index carry over."""

    def __init__(self, documents: str) -> None:
        self.documents, self.rows, self.last = documents, 0, -1

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        texts = pa.array(batch["text"], type=pa.string())
        if self.documents == WIKITEXT:
            ids = np.maximum(self.last + np.cumsum(_article_starts(texts)), 0)
            self.last = int(ids[-1]) if len(ids) else self.last
        else:
            ids = (np.arange(len(texts), dtype=np.int64) + self.rows) // int(self.documents[len(LINES_PREFIX):])
        self.rows += len(texts)
        return {**batch, "document": ids.tolist()}
