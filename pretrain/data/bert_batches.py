"""BERT batches: sentence tokenization, full-length NSP / single-segment examples, and MLM masking.

NSP examples follow BERT's own data pipeline (arXiv:1810.04805, section 3.1, appendix A and its
create_pretraining_data.py): a positive's A and B are consecutive text of one document, and a
negative's B is text of another document. Three changes matter on a corpus of short documents:

- documents are natural units, not rows: rows that share a ``document`` value and follow each other
  form one document (the built-in corpus: a source module's docstrings in file order); without that
  column every row is a document. A map batch of ``STREAM_DOCUMENTS`` rows is read as one token
  stream, and examples are cut from each document in turn. A document's last chunk starts early
  enough to fill the sequence (it overlaps the chunk before it), so examples fill the sequence with
  real text except in documents shorter than one chunk.
- the B of an NSP negative has exactly the length the true continuation would have had, so the pair's
  lengths carry no information about its label, and it starts at a sentence start when the true B does.
- and it ends at its document's end exactly when the true B would have. A positive's B runs to its
  document's end whenever its chunk is the document's last; a negative's B drawn from anywhere almost
  never does (on the built-in corpus: 48% of validation positives against none of the negatives), so that
  alone told the labels apart (a rule reading only it scored 0.742 at NSP; matched, 0.504).
  ``nsp_shortcut_probes`` measures both cues, each as the best one-feature rule fit on train and scored on
  validation (the data module's "[data]" line of the validation split).

MLM: 15% of the non-special tokens are chosen for prediction; of those 80% become
[MASK], 10% a random token and 10% stay unchanged.
"""

from __future__ import annotations

import random
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import chain

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from transformers import PreTrainedTokenizerFast

from pretrain.data.masking import SeededMasking
from pretrain.data.nsp_pairs import B_ENDS_DOCUMENT, SPAN_COLUMNS, NspPairs, pair_ids

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)|\n\s*\n")
# Columns of examples: in memory, in Arrow, or as spans of the streams (the data module's NspPairs).
Examples = dict[str, Sequence[object]] | datasets.Dataset | NspPairs
# Rows read as one stream, whose other documents a negative's B is drawn from: the built-in train split
# (4,982 rows, ~340k tokens) is one stream, so a negative's B comes from anywhere in the corpus, mostly
# another package rather than a neighbouring module of the same one (as with the 1,000-row streams before).
STREAM_DOCUMENTS = 10_000
MAX_REFILLS = 3  # times a document's last chunk may overlap the text before it to fill the sequence
LABEL_BLOCK = 64  # NSP labels are drawn as shuffled blocks of this many, half negatives (_balanced_labels)
NEGATIVE_DRAWS = 16  # tries to find another document with room for a negative's B before keeping the positive
# Bump when the examples a builder makes change, so that cached examples are rebuilt (the data module's key).
# 1: negatives' B ends at a document end exactly when the true B would; examples record B_ENDS_DOCUMENT.
# 2: the data module keeps the examples as spans of the streams (NspPairs): the same examples, other files.
EXAMPLES_VERSION = 2
PROBE_EXAMPLES = 50_000  # examples per split the shortcut probes read (evenly spaced)


def split_sentences(text: str) -> list[str]:
    """Sentences and paragraphs, the units NSP segments are built from."""
    return [s for s in (part.strip() for part in _SENTENCE_END.split(text)) if s]


class SentenceTokenizer:
    """Batched ``datasets.map`` function: ``text`` -> ``sentences`` (token ids per sentence) + size statistics.

    A ``document`` column (the natural document a row belongs to) is passed through.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerFast) -> None:
        self.tokenizer = tokenizer

    def __call__(self, batch: dict[str, list[str]]) -> dict[str, list[object]]:
        per_doc = [split_sentences(text) for text in batch["text"]]
        flat = [sentence for sentences in per_doc for sentence in sentences]
        ids = self.tokenizer(flat, add_special_tokens=False)["input_ids"] if flat else []
        out_sentences, position = [], 0
        for sentences in per_doc:
            out_sentences.append(ids[position : position + len(sentences)])
            position += len(sentences)
        out: dict[str, list[object]] = {"document": list(batch["document"])} if "document" in batch else {}
        return out | {
            "sentences": out_sentences,
            "num_bytes": [len(t.encode("utf-8")) for t in batch["text"]],
            "num_words": [len(t.split()) for t in batch["text"]],
            "num_tokens": [sum(len(s) for s in doc) for doc in out_sentences],
        }


def join_documents(batch: pa.Table) -> pa.Table:
    """Batched ``datasets.map`` function in Arrow format: the rows of a map batch -> one ``stream`` row.

    The row holds all their sentences in corpus order and, per sentence, the index of its document
    in the stream (``sentence_documents``): consecutive rows with the same ``document`` value are one
    document, and without that column each row is its own. Arrow only rewrites list offsets, so
    joining costs no Python work per token.
    """
    column = batch.column("sentences").combine_chunks()
    sentences = column.flatten()  # one entry per sentence
    rows = batch.num_rows
    if "document" in batch.column_names and rows:
        keys = batch.column("document").to_pylist()
        starts_new = np.array([True] + [a != b for a, b in zip(keys[1:], keys[:-1])])
    else:
        starts_new = np.ones(rows, dtype=bool)
    row_document = np.cumsum(starts_new) - 1  # (rows,)
    per_sentence = np.repeat(row_document, pc.list_value_length(column).to_numpy(zero_copy_only=False))
    offsets = pa.array([0, len(sentences)], type=pa.int32())
    return pa.table({
        "stream": pa.ListArray.from_arrays(offsets, sentences),
        "sentence_documents": pa.ListArray.from_arrays(offsets, pa.array(per_sentence, type=pa.int32())),
    })


def _document_spans(sentences: Sequence[Sequence[int]], documents: Sequence[int]) -> list[tuple[int, int]]:
    """[start, end) stream token offsets of each document, in stream order."""
    spans: list[tuple[int, int]] = []
    position, current = 0, None
    for sentence, document in zip(sentences, documents):
        if document != current:
            spans.append((position, position))
            current = document
        position += len(sentence)
        spans[-1] = (spans[-1][0], position)
    return [span for span in spans if span[1] > span[0]]


def _sentence_starts(sentences: Sequence[Sequence[int]]) -> list[int]:
    """Stream position of the first token of every non-empty sentence, ascending."""
    starts, position = [], 0
    for sentence in sentences:
        if sentence:
            starts.append(position)
            position += len(sentence)
    return starts


@dataclass(frozen=True)
class BertExampleBuilder:
    """Batched ``datasets.map`` function (``with_indices=True``): ``stream`` rows -> BERT examples.

    Every row is built on its own, with ``random.Random`` seeded by (seed, row index), so the
    examples are the same in every run and process and for any ``num_proc`` or map batch size.
    ``nsp=False`` gives single-segment examples (``next_sentence_label`` 0: the text is consecutive).
    """

    max_length: int
    seed: int
    cls_id: int
    sep_id: int
    nsp: bool = True

    def __post_init__(self) -> None:
        if self.max_length < 5:
            raise ValueError(f"max_length={self.max_length}: expected >= 5 ([CLS] A [SEP] B [SEP], one token each)")

    def __call__(self, batch: dict[str, list[object]], indices: list[int]) -> dict[str, list[object]]:
        """The examples themselves: ``input_ids``, ``token_type_ids``, ``next_sentence_label`` (and, with NSP,
        ``b_ends_document``), as the streaming path reads them."""
        out: dict[str, list[object]] = {"input_ids": [], "token_type_ids": [], "next_sentence_label": []}
        if self.nsp:
            out[B_ENDS_DOCUMENT] = []
        for tokens, spans in self._rows(batch, indices):
            for a_start, a_end, b_start, b_end, label, ends in zip(*(spans[name] for name in SPAN_COLUMNS[1:])):
                ids, types = pair_ids(tokens[a_start:a_end], tokens[b_start:b_end], self.cls_id, self.sep_id)
                out["input_ids"].append(ids)
                out["token_type_ids"].append(types)
                out["next_sentence_label"].append(label)
                if self.nsp:
                    out[B_ENDS_DOCUMENT].append(ends)
        return out

    def spans(self, batch: dict[str, list[object]], indices: list[int]) -> dict[str, list[int]]:
        """The same examples as spans of their stream row (``nsp_pairs.SPAN_COLUMNS``), which ``NspPairs`` turns
        into ids as training reads them."""
        out: dict[str, list[int]] = {name: [] for name in SPAN_COLUMNS}
        for index, (_, spans) in zip(indices, self._rows(batch, indices)):
            out["stream_row"] += [index] * len(spans["a_start"])
            for name in SPAN_COLUMNS[1:]:
                out[name] += spans[name]
        return out

    def _rows(self, batch: dict[str, list[object]],
              indices: list[int]) -> Iterator[tuple[list[int], dict[str, list[int]]]]:
        """(tokens, span columns but the stream row) of each stream row of the batch."""
        documents = batch.get("sentence_documents") or [[0] * len(sentences) for sentences in batch["stream"]]
        for sentences, sentence_documents, index in zip(batch["stream"], documents, indices):
            tokens = list(chain.from_iterable(sentences))
            spans: dict[str, list[int]] = {name: [] for name in SPAN_COLUMNS[1:]}
            if self.nsp:
                rng = random.Random(self.seed * 1_000_003 + index)
                stream = _Stream(tokens, _sentence_starts(sentences), _document_spans(sentences, sentence_documents))
                labels = _balanced_labels(rng)
                for document in range(len(stream.documents)):
                    self._nsp_examples(stream, document, rng, labels, spans)
            else:
                self._full_sentence_examples(len(tokens), spans)
            yield tokens, spans

    def _full_sentence_examples(self, n: int, out: dict[str, list[int]]) -> None:
        """RoBERTa's FULL-SENTENCES inputs: consecutive ``max_length - 2``-token windows of an n-token stream (B
        empty)."""
        length = self.max_length - 2
        for begin in range(0, n, length):
            end = min(begin + length, n)
            self._add(out, begin, end, end, end, 0, 0)

    @staticmethod
    def _add(out: dict[str, list[int]], a_start: int, a_end: int, b_start: int, b_end: int, label: int,
             ends: int) -> None:
        for name, value in zip(SPAN_COLUMNS[1:], (a_start, a_end, b_start, b_end, label, ends)):
            out[name].append(value)

    def _nsp_examples(self, stream: _Stream, document: int, rng: random.Random, labels: Iterator[int],
                      out: dict[str, list[int]]) -> None:
        """The examples of one document: A and B from it; a negative's B from another document."""
        chunk_length = self.max_length - 3  # room for [CLS] and two [SEP]
        starts = stream.starts
        start, n = stream.documents[document]
        begin, refills = start, 0
        while n - begin >= 2:  # A and B need a token each; a last lone token is left out
            if n - begin < chunk_length <= n - start and begin > start and refills < MAX_REFILLS:
                # The last chunk of a document longer than one chunk starts early enough to fill the sequence,
                # overlapping the text before it, so only documents shorter than one chunk give short examples.
                # A negative there leaves its true B unused; the example it starts is refilled the same way, up
                # to MAX_REFILLS times.
                begin, refills = max(start, n - chunk_length), refills + 1
            end = min(begin + chunk_length, n)
            first, last = bisect_right(starts, begin), bisect_left(starts, end)  # sentence starts inside the chunk
            at_sentence = last > first
            # BERT's A ends at a random sentence boundary; a chunk inside one long sentence is cut at a random token.
            a_end = starts[rng.randrange(first, last)] if at_sentence else rng.randint(begin + 1, end - 1)
            b_length = end - a_end
            b_start, label = a_end, 0
            if next(labels) == 1:
                elsewhere = stream.random_start(document, b_length, at_sentence, end == n, rng)
                if elsewhere is not None:  # None: no other document of the stream has room for this B
                    b_start, label = elsewhere, 1
            self._add(out, begin, a_end, b_start, b_start + b_length, label,
                      int(b_start + b_length in stream.document_ends))
            # The true continuation of a negative was not used: it starts the next example, as in BERT.
            begin = end if label == 0 else a_end


def _balanced_labels(rng: random.Random) -> Iterator[int]:
    """NSP labels in shuffled blocks of LABEL_BLOCK, half of each 1: half of a stream's examples are negatives
    (but for negatives with no room elsewhere), where BERT's coin flip leaves a small split's share a few points
    off 0.5, which a constant classifier would then beat. A block this long keeps consecutive labels nearly
    independent: with shuffled pairs, the short example a negative's unused continuation starts would be
    positive 3 times in 4, and its length would give that away (measured: length-only accuracy 0.537)."""
    while True:
        block = [0, 1] * (LABEL_BLOCK // 2)
        rng.shuffle(block)
        yield from block


@dataclass(frozen=True)
class _Stream:
    """The tokens of one stream, its sentence starts and its documents' [start, end) token spans."""

    tokens: list[int]
    starts: list[int]  # ascending stream offsets of sentence starts
    documents: list[tuple[int, int]]

    @cached_property
    def document_ends(self) -> frozenset[int]:
        return frozenset(self.span_ends)

    @cached_property
    def span_ends(self) -> list[int]:
        """Each document's end offset, ascending: the document holding offset t is the first ending after t."""
        return [end for _, end in self.documents]

    @cached_property
    def lengths_ascending(self) -> list[int]:
        """The documents' lengths in tokens, ascending (`ends_by_length` in the same order)."""
        return sorted(end - start for start, end in self.documents)

    @cached_property
    def ends_by_length(self) -> list[int]:
        """The documents' end offsets, shortest document first."""
        return [end for start, end in sorted(self.documents, key=lambda span: span[1] - span[0])]

    @cached_property
    def ending_sentence_starts(self) -> dict[int, list[int]]:
        """Length -> the sentence starts from which a span of that length ends exactly at its document's end."""
        by_length: dict[int, list[int]] = {}
        for start in self.starts:
            by_length.setdefault(self.span_ends[bisect_right(self.span_ends, start)] - start, []).append(start)
        return by_length

    def random_start(self, document: int, length: int, at_sentence: bool, at_end: bool,
                     rng: random.Random) -> int | None:
        """Start of a random ``length``-token span inside one document other than ``document``.

        It starts at a sentence start when the true B does (``at_sentence``), at any token otherwise,
        and it ends at its document's end exactly when the true B does (``at_end``), so neither where B
        starts nor where it ends tells anything about the label (a positive's B ends at its document's end
        whenever its chunk is the document's last). A span that ends at a document's end is drawn uniformly
        among the documents that have one of this length. Otherwise candidates are drawn uniformly over the
        stream outside ``document``; one that would reach or run past its own document's end is drawn again,
        up to NEGATIVE_DRAWS times. None: no span fits (or the stream has one document).
        """
        begin, end = self.documents[document]
        if at_end:
            # Sentence starts this far from their document's end, or the ends of documents at least this long.
            ends = self.ending_sentence_starts.get(length, []) if at_sentence else self.ends_by_length
            first = 0 if at_sentence else bisect_left(self.lengths_ascending, length)
            if len(ends) - first <= 0:
                return None
            for _ in range(NEGATIVE_DRAWS):  # `document` holds at most one candidate
                candidate = ends[rng.randrange(first, len(ends))] - (0 if at_sentence else length)
                if not begin <= candidate < end:
                    return candidate
            return None
        if at_sentence:
            before, after_first = bisect_left(self.starts, begin), bisect_left(self.starts, end)
            outside = before + len(self.starts) - after_first
        else:
            before, after_first, outside = begin, end, begin + len(self.tokens) - end
        if outside <= 0:
            return None
        span_ends = self.span_ends
        for _ in range(NEGATIVE_DRAWS):
            k = rng.randrange(outside)
            k = k if k < before else after_first + k - before
            start = self.starts[k] if at_sentence else k
            if start + length < span_ends[bisect_right(span_ends, start)]:
                return start
        return None


@dataclass(frozen=True)
class ExampleStatistics:
    """How full the examples are and how balanced NSP is (logged per split)."""

    examples: int
    mean_tokens: float  # real (non-padding) tokens per example, specials included
    positive_share: float  # share of next_sentence_label 0 (B follows A)

    @classmethod
    def of(cls, lengths: Sequence[int] | np.ndarray, labels: Sequence[int] | np.ndarray) -> ExampleStatistics:
        lengths, labels = np.asarray(lengths), np.asarray(labels)
        if len(lengths) == 0:
            return cls(0, 0.0, 0.0)
        return cls(len(lengths), float(lengths.mean()), float((labels == 0).mean()))


def segment_lengths(token_type_ids: Sequence[Sequence[int]] | pa.Array | pa.ChunkedArray) -> np.ndarray:
    """(len(A), len(B)) per ``[CLS] A [SEP] B [SEP]`` example, read from its token types (an Arrow column is
    read without Python work per token)."""
    if isinstance(token_type_ids, (pa.Array, pa.ChunkedArray)):
        column = token_type_ids.combine_chunks() if isinstance(token_type_ids, pa.ChunkedArray) else token_type_ids
        totals = pc.list_value_length(column).to_numpy(zero_copy_only=False).astype(np.int64)
        parents = pc.list_parent_indices(column).to_numpy(zero_copy_only=False)
        values = pc.list_flatten(column).to_numpy(zero_copy_only=False)
        ones = np.bincount(parents, weights=values, minlength=len(column)).astype(np.int64)
    else:
        ones = np.array([sum(types) for types in token_type_ids], dtype=np.int64)
        totals = np.array([len(types) for types in token_type_ids], dtype=np.int64)
    return np.stack([totals - ones - 2, ones - 1], axis=1)  # (N, 2)


def _column(examples: Examples, name: str) -> Sequence[object] | pa.Array | pa.ChunkedArray:
    """A column of examples: Arrow for a data set (no Python object per row), else as given."""
    if isinstance(examples, NspPairs):
        return examples.column(name)
    return examples.with_format("arrow")[name] if isinstance(examples, datasets.Dataset) else examples[name]


def _segment_lengths(examples: Examples) -> np.ndarray:
    """(len(A), len(B)) per example: from the spans, or read from the token types."""
    if isinstance(examples, NspPairs):
        return examples.segment_lengths()
    return segment_lengths(_column(examples, "token_type_ids"))


def _labels(examples: Examples) -> np.ndarray:
    return np.asarray(_column(examples, "next_sentence_label"))


def _threshold_rule_accuracy(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> float:
    """Validation accuracy of the best rule "random B (label 1) iff feature c is above (or below) threshold t",
    fit on train over every column c of x (N, features) and every threshold (one below the minimum: a constant
    rule); about 0.5 means the features carry no information about the label."""
    best_accuracy, best_rule = -1.0, (0, 0.0, True)
    for column in range(x_train.shape[1]):
        for threshold in np.unique(np.concatenate([[x_train[:, column].min() - 1], x_train[:, column]])):
            above = x_train[:, column] > threshold
            for random_above in (True, False):
                accuracy = float(np.mean((above == random_above) == (y_train == 1)))
                if accuracy > best_accuracy:
                    best_accuracy, best_rule = accuracy, (column, threshold, random_above)
    column, threshold, random_above = best_rule
    return float(np.mean(((x_val[:, column] > threshold) == random_above) == (y_val == 1)))


def length_only_nsp_accuracy(train: Examples, validation: Examples) -> float:
    """Validation accuracy of the best length-threshold NSP rule fit on ``train``.

    The rule predicts the label from len(A), len(B) or len(A) + len(B) alone ("random B" above or
    below a threshold); about 0.5 means the lengths carry no information about the label.
    Both arguments hold ``token_type_ids`` and ``next_sentence_label`` columns.
    """
    def features(examples: Examples) -> np.ndarray:
        lengths = _segment_lengths(examples)  # (N, 2)
        return np.column_stack([lengths, lengths.sum(axis=1)])

    return _threshold_rule_accuracy(features(train), _labels(train), features(validation), _labels(validation))


def end_of_document_nsp_accuracy(train: Examples, validation: Examples) -> float:
    """Validation accuracy of the best NSP rule fit on ``train`` that reads only whether B ends where its
    document ends (column B_ENDS_DOCUMENT): a positive's B runs to its document's end whenever its chunk is the
    document's last, so unless a negative's B does so as often, that alone would tell the labels apart (a
    shortcut: a model could learn where documents end instead of whether B follows A). About 0.5: no cue."""
    def flags(examples: Examples) -> np.ndarray:
        return np.asarray(_column(examples, B_ENDS_DOCUMENT), dtype=np.int64)[:, None]

    return _threshold_rule_accuracy(flags(train), _labels(train), flags(validation), _labels(validation))


def nsp_shortcut_probes(train: Examples, validation: Examples) -> dict[str, float]:
    """Both shortcut probes, each fit on train and scored on validation: what a rule reading only the segment
    lengths, or only whether B ends at a document end, scores at NSP (chance 0.5)."""
    return {"length": length_only_nsp_accuracy(train, validation),
            "end_of_document": end_of_document_nsp_accuracy(train, validation)}


def describe_nsp_probes(train: object, validation: object) -> str:
    """The shortcut probes for the data module's "[data]" line of the validation split ("" where they cannot be
    computed: streamed examples, or no train examples yet). At most PROBE_EXAMPLES evenly spaced examples of
    each split are read, so that a large corpus costs no more than the built-in one."""
    if not isinstance(train, (datasets.Dataset, NspPairs)) or not isinstance(validation, (datasets.Dataset, NspPairs)) \
            or not len(train):
        return ""

    def sample(examples: datasets.Dataset | NspPairs) -> datasets.Dataset | NspPairs:
        if len(examples) <= PROBE_EXAMPLES:
            return examples
        return examples.select(np.linspace(0, len(examples) - 1, PROBE_EXAMPLES).astype(np.int64))

    probes = nsp_shortcut_probes(sample(train), sample(validation))
    n = min(len(validation), PROBE_EXAMPLES)
    return (f"; NSP shortcut probes (a rule fit on train, scored on {n} validation examples; chance 0.5, standard "
            f"error {0.5 / np.sqrt(n):.3f}): segment lengths {probes['length']:.3f}, B ends its document "
            f"{probes['end_of_document']:.3f}")


@dataclass
class MlmNspCollator(SeededMasking):
    """Pads NSP examples and masks them for MLM (pretrain.data.masking: BERT's 80/10/10, seeded per example)."""

    def torch_call(self, examples: list[dict[str, object]]) -> dict[str, torch.Tensor]:
        nsp = torch.tensor([int(e["next_sentence_label"]) for e in examples], dtype=torch.long)
        features = [{"input_ids": e["input_ids"], "token_type_ids": e["token_type_ids"]} for e in examples]
        batch = self.tokenizer.pad(features, return_tensors="pt", pad_to_multiple_of=self.pad_to_multiple_of)
        input_ids, labels = self.mask_rows(examples, batch["input_ids"])
        return {
            "input_ids": input_ids,
            "attention_mask": batch["attention_mask"],
            "token_type_ids": batch["token_type_ids"],
            "labels": labels,
            "next_sentence_label": nsp,
        }
