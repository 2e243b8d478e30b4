"""MLM masking statistics, fixed validation masks, whole-word masking and NSP pair construction."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from pretrain.data.bert_batches import MlmNspCollator, NspPairBuilder, split_sentences
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
    ids = [[tokenizer(s, add_special_tokens=False)["input_ids"] for s in split_sentences(t)] for t in _texts(n, 1)]
    builder = NspPairBuilder(max_length, 0, tokenizer.cls_token_id, tokenizer.sep_token_id)
    out = builder({"sentences": ids}, list(range(n)))
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


def _unique_token_docs(n_docs: int) -> list[list[list[int]]]:
    rng = random.Random(3)
    docs, next_id = [], 10
    for _ in range(n_docs):
        sentences = []
        for _ in range(rng.randint(1, 6)):
            length = rng.randint(1, 30)
            sentences.append(list(range(next_id, next_id + length)))
            next_id += length
        docs.append(sentences)
    return docs


def test_nsp_pairs_are_balanced_and_continuations_are_consecutive() -> None:
    docs = _unique_token_docs(600)
    owner = {t: d for d, doc in enumerate(docs) for s in doc for t in s}
    out = NspPairBuilder(40, 0, 2, 3)({"sentences": docs}, list(range(len(docs))))
    labels = out["next_sentence_label"]
    assert sum(labels) / len(labels) == pytest.approx(0.5, abs=0.05)
    for ids, types, label in zip(out["input_ids"], out["token_type_ids"], labels):
        assert len(ids) <= 40 and ids[0] == 2 and ids[-1] == 3 and len(types) == len(ids)
        sep = ids.index(3)
        a, b = ids[1:sep], ids[sep + 1 : -1]
        assert a and b and all(t == 0 for t in types[: sep + 1]) and all(t == 1 for t in types[sep + 1 :])
        assert a == list(range(a[0], a[0] + len(a))), "segment A must be contiguous text"
        if label == 0:
            assert b[0] == a[-1] + 1 and b == list(range(b[0], b[0] + len(b))), "IsNext: B continues A"
            assert owner[a[0]] == owner[b[-1]]
        else:
            assert owner[b[0]] != owner[a[0]], "NotNext: B comes from another document"


def test_long_sentences_are_cut_not_dropped() -> None:
    docs = [[list(range(100, 400))], [list(range(500, 520)), list(range(520, 530))]]
    out = NspPairBuilder(32, 0, 2, 3)({"sentences": docs}, [0, 1])
    assert all(len(ids) <= 32 for ids in out["input_ids"])
    assert len(out["input_ids"]) >= 300 // 29
