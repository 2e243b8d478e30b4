"""BERT's examples kept as token spans of the prepared streams, built into token ids as training reads them.

An example is seven 32-bit integers -- the stream row, A's and B's [start, end) offsets in that row's tokens, the NSP
label and whether B ends its document -- instead of its up to ``max_length`` token ids and as many token types.
With BERT's 10 copies of its pairs (create_pretraining_data.py's dupe_factor) the materialised examples were 13x the
disk of GPT's token stream and 5x its preparation time on a WikiText-103-sized corpus; as spans they are a few
bytes per example. The tokens stay where preparation wrote them once: the streams' Arrow cache file
(``join_documents``), which every process maps read-only, so the ranks of a node share one copy through the page
cache and only the small span columns are read into each process.

``NspPairs`` is the map-style data set training reads; ``pair_ids`` is the one place a span becomes
``[CLS] A [SEP] B [SEP]`` (or RoBERTa's single segment ``[CLS] A [SEP]`` when B is empty), shared with the
example builder's streaming path so that both give the same ids to the bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import datasets
import numpy as np
from torch.utils.data import Dataset

# Whether an NSP example's B ends where its document ends (1) or not (0): kept beside each example for the
# end-of-document probe (`bert_batches.nsp_shortcut_probes`); the collator does not read it.
B_ENDS_DOCUMENT = "b_ends_document"
SPAN_COLUMNS = ("stream_row", "a_start", "a_end", "b_start", "b_end", "next_sentence_label", B_ENDS_DOCUMENT)
# 28 bytes an example. A stream row holds STREAM_DOCUMENTS documents (10,000 WikiText articles: ~36M tokens), so its
# offsets stay far below 2**31.
SPAN_FEATURES = datasets.Features({name: datasets.Value("int32") for name in SPAN_COLUMNS})


def pair_ids(a: Sequence[int], b: Sequence[int], cls_id: int, sep_id: int) -> tuple[list[int], list[int]]:
    """(input ids, token types) of ``[CLS] A [SEP] B [SEP]``; an empty B gives the single segment
    ``[CLS] A [SEP]`` (an NSP example's B always holds a token)."""
    if not b:
        ids = [cls_id, *a, sep_id]
        return ids, [0] * len(ids)
    return [cls_id, *a, sep_id, *b, sep_id], [0] * (len(a) + 2) + [1] * (len(b) + 1)


class NspPairs(Dataset):
    """BERT's examples as spans (``SPAN_COLUMNS``) of ``streams`` rows, read as the collator expects them:
    ``input_ids``, ``token_type_ids``, ``next_sentence_label`` and ``b_ends_document`` per example.

    ``streams`` is the data set of joined documents (a ``stream`` column of sentences of token ids) and ``spans``
    one row per example; both are memory-mapped Arrow. The span columns and the streams' token views are read
    on first use in each process (a DataLoader worker reopens the files rather than receiving a copy).
    """

    def __init__(self, streams: datasets.Dataset, spans: datasets.Dataset, cls_id: int, sep_id: int,
                 rows: np.ndarray | None = None) -> None:
        missing = [name for name in SPAN_COLUMNS if name not in spans.column_names]
        if missing:
            raise ValueError(f"NSP spans lack the columns {missing}; expected {list(SPAN_COLUMNS)}")
        self.streams, self.spans, self.cls_id, self.sep_id, self.rows = streams, spans, cls_id, sep_id, rows
        self._read: tuple[dict[str, np.ndarray], list[np.ndarray]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_read"] = None  # views of memory-mapped files: each process maps them itself
        return state

    def _columns_and_tokens(self) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
        if self._read is None:
            spans = self.spans.flatten_indices() if self.spans._indices is not None else self.spans
            columns = {name: spans.data.column(name).to_numpy() for name in SPAN_COLUMNS}
            if self.rows is not None:
                columns = {name: values[self.rows] for name, values in columns.items()}
            stream = self.streams.data.column("stream")
            # Each row's sentences flattened: a zero-copy view of the mapped file, one per stream row.
            tokens = [stream[row].values.flatten().to_numpy(zero_copy_only=True) for row in range(len(stream))]
            self._read = (columns, tokens)
        return self._read

    def __len__(self) -> int:
        return len(self.rows) if self.rows is not None else len(self.spans)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        columns, tokens = self._columns_and_tokens()
        examples = []
        for index in indices:
            row = tokens[columns["stream_row"][index]]
            a = row[columns["a_start"][index]:columns["a_end"][index]].tolist()
            b = row[columns["b_start"][index]:columns["b_end"][index]].tolist()
            ids, types = pair_ids(a, b, self.cls_id, self.sep_id)
            examples.append({"input_ids": ids, "token_type_ids": types,
                             "next_sentence_label": int(columns["next_sentence_label"][index]),
                             B_ENDS_DOCUMENT: int(columns[B_ENDS_DOCUMENT][index])})
        return examples

    def select(self, indices: Sequence[int] | np.ndarray) -> NspPairs:
        """The examples at `indices` (of this selection), in that order."""
        chosen = np.asarray(indices, dtype=np.int64)
        rows = self.rows[chosen] if self.rows is not None else chosen
        return NspPairs(self.streams, self.spans, self.cls_id, self.sep_id, rows)

    def column(self, name: str) -> np.ndarray:
        """One span column (e.g. ``next_sentence_label``, ``b_ends_document``), one value per example."""
        return self._columns_and_tokens()[0][name]

    def segment_lengths(self) -> np.ndarray:
        """(len(A), len(B)) per example (N, 2); B is 0 for a single segment."""
        columns = self._columns_and_tokens()[0]
        return np.stack([columns["a_end"] - columns["a_start"], columns["b_end"] - columns["b_start"]], axis=1)

    def lengths(self) -> np.ndarray:
        """Tokens per example, specials included: [CLS] and one [SEP] per segment."""
        segments = self.segment_lengths()
        return segments.sum(axis=1) + 2 + (segments[:, 1] > 0)
