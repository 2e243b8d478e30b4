"""MLM masking statistics, fixed validation masks, whole-word masking and BERT example construction."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
import torch

from pretrain.data.bert_batches import (
    B_ENDS_DOCUMENT,
    BertExampleBuilder,
    MlmNspCollator,
    end_of_document_nsp_accuracy,
    join_documents,
    length_only_nsp_accuracy,
    nsp_shortcut_probes,
    segment_lengths,
    split_sentences,
)
from pretrain.data.tokenizer import build_tokenizer, continuation_table

WORDS = "alpha beta gamma delta river stone cloud paper light music garden window falling brightly".split()


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9))).capitalize() + "."
                 for _ in range(rng.randint(2, 6)))
        for _ in range(n)
    ]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory):
    return build_tokenizer("wordpiece", 300, _texts(200), tmp_path_factory.mktemp("tok"))


def _examples(tokenizer, n: int = 400, max_length: int = 48) -> list[dict[str, list[int]]]:
    docs = [[tokenizer(s, add_special_tokens=False)["input_ids"] for s in split_sentences(t)] for t in _texts(n, 1)]
    stream, documents = _row(docs)
    builder = BertExampleBuilder(max_length, 0, tokenizer.cls_token_id, tokenizer.sep_token_id)
    out = builder({"stream": [stream], "sentence_documents": [documents]}, [0])
    return [{k: out[k][i] for k in out} for i in range(len(out["input_ids"]))]


def test_masking_statistics_follow_bert(tokenizer) -> None:
    torch.manual_seed(0)
    collator = MlmNspCollator(tokenizer=tokenizer, mlm_probability=0.15)
    examples = _examples(tokenizer)
    chosen = total = as_mask = unchanged = 0
    for start in range(0, len(examples), 32):
        original = collator.tokenizer.pad([{"input_ids": e["input_ids"]} for e in examples[start : start + 32]],
                                          return_tensors="pt")["input_ids"]
        batch = collator(examples[start : start + 32])
        special = torch.isin(original, torch.tensor(tokenizer.all_special_ids))
        predicted = batch["labels"] != -100
        assert not (predicted & special).any(), "special or padding tokens were chosen for prediction"
        assert torch.equal(batch["labels"][predicted], original[predicted])
        chosen += int(predicted.sum())
        total += int((~special).sum())
        as_mask += int((batch["input_ids"][predicted] == tokenizer.mask_token_id).sum())
        unchanged += int((batch["input_ids"][predicted] == original[predicted]).sum())
    assert chosen / total == pytest.approx(0.15, abs=0.015)
    assert as_mask / chosen == pytest.approx(0.8, abs=0.04)
    # "unchanged" also catches random replacements that drew the original token (1 / vocab of them).
    assert unchanged / chosen == pytest.approx(0.1, abs=0.03)


def test_validation_mask_is_fixed_whatever_the_batching(tokenizer) -> None:
    examples = _examples(tokenizer, 40)
    collator = MlmNspCollator(tokenizer=tokenizer, fixed_seed=7)
    whole = collator(examples)
    torch.manual_seed(123)  # the global RNG must not matter
    halves = [collator(examples[:13]), collator(examples[13:])]
    width = whole["labels"].shape[1]
    for key in ("input_ids", "labels"):
        parts = [torch.nn.functional.pad(h[key], (0, width - h[key].shape[1]),
                                         value=-100 if key == "labels" else tokenizer.pad_token_id) for h in halves]
        assert torch.equal(torch.cat(parts), whole[key])


def test_whole_word_masking_predicts_every_piece_of_a_chosen_word(tokenizer) -> None:
    torch.manual_seed(0)
    table = torch.tensor(continuation_table(tokenizer))
    collator = MlmNspCollator(tokenizer=tokenizer, continuation=table)
    batch = collator(_examples(tokenizer, 100))
    predicted = batch["labels"] != -100
    original = torch.where(predicted, batch["labels"], batch["input_ids"])
    continuation = table[original] & (batch["attention_mask"] == 1)
    # A continuation piece is predicted exactly when the piece before it is.
    follows = continuation[:, 1:]
    assert torch.equal(predicted[:, 1:][follows], predicted[:, :-1][follows])
    assert predicted.any()


def _unique_token_docs(n_docs: int, seed: int = 3, long_share: float = 0.0) -> list[list[list[int]]]:
    """Documents whose token ids are their stream positions + 10, so tests can tell where a segment came from.

    Most documents are short (1-3 sentences); ``long_share`` of them have 10-25 sentences.
    """
    rng = random.Random(seed)
    docs, next_id = [], 10
    for _ in range(n_docs):
        sentences = []
        for _ in range(rng.randint(10, 25) if rng.random() < long_share else rng.randint(1, 3)):
            length = rng.randint(2, 12)
            sentences.append(list(range(next_id, next_id + length)))
            next_id += length
        docs.append(sentences)
    return docs


def _row(docs: list[list[list[int]]]) -> tuple[list[list[int]], list[int]]:
    """One stream row: the documents' sentences in order and each sentence's document index."""
    return ([sentence for doc in docs for sentence in doc],
            [d for d, doc in enumerate(docs) for _ in doc])


def _build(docs: list[list[list[int]]], max_length: int, seed: int = 0, nsp: bool = True) -> dict[str, list]:
    stream, documents = _row(docs)
    return BertExampleBuilder(max_length, seed, 2, 3, nsp)({"stream": [stream], "sentence_documents": [documents]}, [0])


def _document_of(docs: list[list[list[int]]]) -> dict[int, int]:
    """Token id -> index of the document holding it (the fixture's token ids are unique)."""
    return {t: d for d, doc in enumerate(docs) for sentence in doc for t in sentence}


def _segments(ids: list[int]) -> tuple[list[int], list[int]]:
    sep = ids.index(3)
    return ids[1:sep], ids[sep + 1 : -1]


def test_examples_fill_the_sequence_within_documents_without_dropping_text() -> None:
    docs = _unique_token_docs(300, long_share=1.0)  # ~130 tokens per document
    out = _build(docs, 64)
    document_of = _document_of(docs)
    firsts = [document_of[ids[1]] for ids in out["input_ids"]]
    last_token = {d: doc[-1][-1] for d, doc in enumerate(docs)}
    # An example is short only where its chunk (A and the true B's length) reaches its document's end.
    for ids in out["input_ids"]:
        a, b = _segments(ids)
        assert len(ids) == 64 or a[-1] + len(b) == last_token[document_of[a[0]]]
    assert sorted(set(firsts)) == list(range(len(docs))) and firsts == sorted(firsts), "documents in stream order"
    assert sum(len(ids) for ids in out["input_ids"]) / len(out["input_ids"]) / 64 >= 0.95, "refills fill the sequence"
    covered = set()
    for ids, label in zip(out["input_ids"], out["next_sentence_label"]):
        a, b = _segments(ids)
        covered.update(a if label else a + b)
    # Every token of every document (but a lone last one) is in some A or true B.
    for doc in docs:
        tokens = [t for sentence in doc for t in sentence]
        assert set(tokens[:-1]) <= covered


def test_long_sentences_are_cut_not_dropped() -> None:
    docs = [[list(range(10, 310))], [list(range(310, 330)), list(range(330, 340))]]
    out = _build(docs, 32)
    covered = {t for ids, label in zip(out["input_ids"], out["next_sentence_label"])
               for t in (_segments(ids)[0] if label else ids[1:-1])}
    assert covered >= set(range(10, 309)) | set(range(310, 339))


def test_positives_come_from_one_document_and_negatives_from_another() -> None:
    docs = _unique_token_docs(600, long_share=0.5)
    starts = {s[0] for doc in docs for s in doc}
    document_of = _document_of(docs)
    last_token = {d: doc[-1][-1] for d, doc in enumerate(docs)}
    out = _build(docs, 40)
    labels = out["next_sentence_label"]
    assert sum(labels) / len(labels) == pytest.approx(0.5, abs=0.05)
    for i, (ids, types, label) in enumerate(zip(out["input_ids"], out["token_type_ids"], labels)):
        a, b = _segments(ids)
        assert a and b and ids[0] == 2 and types == [0] * (len(a) + 2) + [1] * (len(b) + 1)
        ends = b[-1] == last_token[document_of[b[0]]]
        assert out[B_ENDS_DOCUMENT][i] == ends, "the recorded flag is where B ends"
        assert ends == (a[-1] + len(b) == last_token[document_of[a[0]]]), "B ends a document iff the true B would"
        assert a == list(range(a[0], a[0] + len(a))) and b == list(range(b[0], b[0] + len(b))), "consecutive text"
        assert len({document_of[t] for t in a}) == 1 and len({document_of[t] for t in b}) == 1, "one document each"
        if label == 0:
            assert b[0] == a[-1] + 1, "IsNext: B continues A"
            assert document_of[b[0]] == document_of[a[0]], "IsNext: A and B from one document"
        else:
            assert document_of[b[0]] != document_of[a[0]], "NotNext: B from another document"
            assert b[0] in starts or a[-1] + 1 not in starts, "B starts at a sentence start when the true B does"
            if i + 1 < len(labels):
                next_a, next_b = _segments(out["input_ids"][i + 1])
                lone_last = a[-1] + 1 == last_token[document_of[a[0]]]  # a lone last token is left out
                # Near its document's end the next example starts earlier to fill the sequence (a refill).
                refilled = (next_a[0] < a[-1] + 1 and document_of[next_a[0]] == document_of[a[0]]
                            and next_a[-1] + len(next_b) == last_token[document_of[a[0]]])
                assert next_a[0] == a[-1] + 1 or lone_last or refilled, "the unused true B starts the next example"


def test_a_stream_of_one_document_has_no_negatives() -> None:
    out = _build(_unique_token_docs(1, long_share=1.0), 24)
    assert out["input_ids"] and set(out["next_sentence_label"]) == {0}


def test_neither_segment_lengths_nor_document_ends_predict_the_nsp_label() -> None:
    # Short and long documents mixed: per-document pairs leak the label through the lengths, and a positive's B
    # runs to its document's end whenever its chunk is the document's last (most of the short documents' examples).
    train_docs = _unique_token_docs(6000, seed=1, long_share=0.3)
    val_docs = _unique_token_docs(6000, seed=2, long_share=0.3)
    train, validation = _build(train_docs, 32, seed=0), _build(val_docs, 32, seed=1)
    assert len(validation["input_ids"]) > 4000
    probes = nsp_shortcut_probes(train, validation)
    assert probes["length"] == length_only_nsp_accuracy(train, validation) <= 0.52
    assert probes["end_of_document"] == end_of_document_nsp_accuracy(train, validation) <= 0.52
    ends, labels = (torch.tensor(validation[k]).float() for k in (B_ENDS_DOCUMENT, "next_sentence_label"))
    assert ends.mean() > 0.2, "the cue is there to be balanced: many B end at their document's end"
    assert abs(float(ends[labels == 0].mean() - ends[labels == 1].mean())) < 0.03
    lengths = segment_lengths(validation["token_type_ids"])  # (N, 2)
    labels = torch.tensor(validation["next_sentence_label"])
    for column in range(2):  # the same distribution of len(A) and len(B) for both labels
        positive, negative = (torch.tensor(lengths[:, column])[labels == k].float().mean() for k in (0, 1))
        assert abs(float(positive - negative)) < 0.5

    # The check itself catches a leak: per-document pairs whose random B is filled to the target length.
    def per_document_pairs(docs: list[list[list[int]]], seed: int) -> dict[str, list]:
        rng, types, labels = random.Random(seed), [], []
        for doc in docs:
            if len(doc) < 2:
                continue
            cut = rng.randint(1, len(doc) - 1)
            a, rest = sum(len(s) for s in doc[:cut]), sum(len(s) for s in doc[cut:])
            label = rng.random() < 0.5
            b = max(1, 29 - min(a, 28)) if label else rest
            types.append([0] * (min(a, 28) + 2) + [1] * (min(b, 29 - min(a, 28)) + 1))
            labels.append(int(label))
        return {"token_type_ids": types, "next_sentence_label": labels}

    assert length_only_nsp_accuracy(per_document_pairs(train_docs, 0), per_document_pairs(val_docs, 1)) > 0.6


def test_the_end_of_document_probe_finds_the_cue_where_there_is_one() -> None:
    """Examples whose positives' B ends at a document end half the time and negatives' B almost never (negatives
    drawn from anywhere, as before they were matched): the probe, fit on train, reads the label off that alone."""
    def examples(seed: int, n: int = 4000) -> dict[str, list[int]]:
        rng = random.Random(seed)
        labels = [rng.randint(0, 1) for _ in range(n)]
        ends = [int(rng.random() < (0.5 if label == 0 else 0.01)) for label in labels]
        return {"next_sentence_label": labels, B_ENDS_DOCUMENT: ends}

    assert end_of_document_nsp_accuracy(examples(0), examples(1)) > 0.7
    balanced = {"next_sentence_label": [0, 1] * 2000, B_ENDS_DOCUMENT: [0, 0, 1, 1] * 1000}
    assert end_of_document_nsp_accuracy(balanced, balanced) == 0.5


def test_without_nsp_examples_are_single_full_segments() -> None:
    docs = _unique_token_docs(300)
    out = _build(docs, 32, nsp=False)
    n = sum(len(s) for doc in docs for s in doc)
    assert [t for ids in out["input_ids"] for t in ids[1:-1]] == list(range(10, 10 + n)), "the stream, once, in order"
    assert all(ids[0] == 2 and ids[-1] == 3 and 3 not in ids[1:-1] for ids in out["input_ids"])
    assert all(len(ids) == 32 for ids in out["input_ids"][:-1])
    assert all(set(types) == {0} for types in out["token_type_ids"]) and set(out["next_sentence_label"]) == {0}


def test_examples_depend_only_on_seed_and_row_index() -> None:
    rows = [_row(_unique_token_docs(200, seed=k)) for k in range(3)]
    batch = {"stream": [r[0] for r in rows], "sentence_documents": [r[1] for r in rows]}
    builder = BertExampleBuilder(32, 5, 2, 3)
    together = builder(batch, [0, 1, 2])
    apart = [builder({"stream": [row[0]], "sentence_documents": [row[1]]}, [k]) for k, row in enumerate(rows)]
    # One row at a time (another map batch size or num_proc) gives the same examples.
    assert together["input_ids"] == [ids for part in apart for ids in part["input_ids"]]
    assert builder(batch, [0, 1, 2]) == together
    assert BertExampleBuilder(32, 6, 2, 3)(batch, [0, 1, 2])["input_ids"] != together["input_ids"]


def test_join_documents_keeps_sentences_in_corpus_order() -> None:
    docs = _unique_token_docs(5)
    table = pa.table({"sentences": docs[:2]}), pa.table({"sentences": docs[2:]})
    joined = [join_documents(t) for t in table]
    assert [t.column("stream").to_pylist() for t in joined] == [[docs[0] + docs[1]], [docs[2] + docs[3] + docs[4]]]
    # Without a document column every row is a document.
    assert joined[0].column("sentence_documents").to_pylist() == [[0] * len(docs[0]) + [1] * len(docs[1])]


def test_join_documents_groups_consecutive_rows_of_one_document() -> None:
    docs = _unique_token_docs(4)
    table = pa.table({"sentences": docs, "document": ["json", "json", "os", "json"]})
    documents = join_documents(table).column("sentence_documents").to_pylist()[0]
    expected = [0] * (len(docs[0]) + len(docs[1])) + [1] * len(docs[2]) + [2] * len(docs[3])
    assert documents == expected, "rows of one document join; a document seen again later is another one"
