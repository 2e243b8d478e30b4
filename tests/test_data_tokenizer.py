"""Tokenizer training: shared special-token ids, HF loading, word alignment, caching, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import PreTrainedTokenizerFast

from pretrain.data import tokenizer as tokenizer_module
from pretrain.data.tokenizer import SPECIAL_TOKENS, build_tokenizer, continuation_table

TEXTS = [f"Return the value of parameter number {i} as a string, or raise ValueError." for i in range(60)] + [
    "The quick brown fox jumps over the lazy dog while the timeout expires."
] * 20


@pytest.mark.parametrize("kind", ["wordpiece", "bpe"])
def test_special_tokens_have_the_same_ids_for_every_kind(kind: str, tmp_path: Path) -> None:
    tok = build_tokenizer(kind, 400, TEXTS, tmp_path)
    assert tok.convert_ids_to_tokens(list(range(6))) == list(SPECIAL_TOKENS)
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id,
            tok.eos_token_id) == (0, 1, 2, 3, 4, 5)
    saved = next((tmp_path / "tokenizers").glob(f"{kind}-400-*/tokenizer.json"))
    reloaded = PreTrainedTokenizerFast(tokenizer_file=str(saved))
    assert reloaded("lazy dog", add_special_tokens=False)["input_ids"] == tok("lazy dog",
                                                                              add_special_tokens=False)["input_ids"]
    pair = tok("quick fox", "lazy dog")
    assert pair["input_ids"][0] == 2 and pair["input_ids"][-1] == 3 and pair["token_type_ids"][-1] == 1


@pytest.mark.parametrize("kind", ["wordpiece", "bpe"])
def test_words_align_for_ner(kind: str, tmp_path: Path) -> None:
    tok = build_tokenizer(kind, 400, TEXTS, tmp_path)
    words = ["raise", "ValueError", "unless", "timeout", "expires"]
    encoding = tok(words, is_split_into_words=True)
    word_ids = encoding.word_ids()
    assert [w for w in dict.fromkeys(word_ids) if w is not None] == list(range(len(words)))
    for index, word in enumerate(words):
        pieces = [p for p, w in zip(encoding["input_ids"], word_ids) if w == index]
        assert tok.decode(pieces).strip() == word


def test_second_build_comes_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = build_tokenizer("bpe", 400, TEXTS, tmp_path)

    def fail(*args: object) -> None:
        raise AssertionError("trained again instead of using the cache")

    monkeypatch.setattr(tokenizer_module, "_new_tokenizer", fail)
    second = build_tokenizer("bpe", 400, TEXTS, tmp_path)
    assert second.get_vocab() == first.get_vocab()


def test_continuation_table_marks_subword_pieces(tmp_path: Path) -> None:
    tok = build_tokenizer("wordpiece", 400, TEXTS, tmp_path)
    table = continuation_table(tok)
    assert all(table[i] == tok.convert_ids_to_tokens(i).startswith("##") for i in range(6, len(tok)))


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sentencepiece.*expected one of"):
        build_tokenizer("sentencepiece", 400, TEXTS, tmp_path)
    with pytest.raises(ValueError, match="vocab_size=100 is too small for a bpe"):
        build_tokenizer("bpe", 100, TEXTS, tmp_path)
    with pytest.raises(FileNotFoundError, match="nope.json"):
        build_tokenizer("bpe", 400, TEXTS, tmp_path, tokenizer_file=str(tmp_path / "nope.json"))
    good = next((tmp_path / "tokenizers").glob("*/tokenizer.json"), None) or (
        build_tokenizer("bpe", 400, TEXTS, tmp_path) and next((tmp_path / "tokenizers").glob("*/tokenizer.json"))
    )
    spec = json.loads(good.read_text())
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["content"] != "[MASK]"]
    spec["model"]["vocab"].pop("[MASK]")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(spec))
    with pytest.raises(ValueError, match=r"broken.json lacks the special tokens \['\[MASK\]'\]"):
        build_tokenizer("bpe", 400, TEXTS, tmp_path, tokenizer_file=str(broken))
    with pytest.raises(ValueError, match="corpus is empty"):
        build_tokenizer("wordpiece", 400, ["", ""], tmp_path)


def test_wordpiece_training_is_the_same_every_time(tmp_path: Path) -> None:
    # 26 two-letter words that tie for the one merge allowed: tokenizers' own WordPieceTrainer picks a different
    # one almost every time (its "##x" ids follow hash-map order); the vocabulary must not depend on that.
    texts = [f"q{letter}" for letter in "abcdefghijklmnopqrstuvwxyz"]
    size = len(SPECIAL_TOKENS) + 26 + 26 + 1  # specials, "a".."z", "##a".."##z", one merge
    trained = [build_tokenizer("wordpiece", size, texts,
                               tmp_path / str(i)).backend_tokenizer.to_str() for i in range(4)]
    assert len(set(trained)) == 1
    vocab = json.loads(trained[0])["model"]["vocab"]
    assert len(vocab) == size and "##z" in vocab and "z" in vocab
    assert sum(token.startswith("q") and len(token) == 2 for token in vocab) == 1
