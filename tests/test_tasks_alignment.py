"""Sub-word label alignment for WordPiece and byte-level BPE: label on the first sub-word only."""

from __future__ import annotations

from pathlib import Path

import pytest
from tasks_fixtures import tokenizer

from tasks.encoding import IGNORE_INDEX
from tasks.ner.alignment import first_subword_labels, first_subword_positions, split_words


def test_first_subword_labels_hand_example() -> None:
    # words: 0 -> 2 pieces, 1 -> 1 piece, 2 -> 3 pieces
    word_ids = [0, 0, 1, 2, 2, 2]
    assert first_subword_labels(word_ids, [7, 8, 9]) == [7, IGNORE_INDEX, 8, 9, IGNORE_INDEX, IGNORE_INDEX]
    assert first_subword_positions(word_ids, 3) == [0, 2, 3]
    # word 2 truncated away, word 3 never reached: no position
    assert first_subword_positions([0, 1, 1], 4) == [0, 1, -1, -1]


@pytest.mark.parametrize("kind", ["wordpiece", "bpe"])
def test_split_words_maps_every_piece_to_its_word(kind: str, tmp_path: Path) -> None:
    tok = tokenizer(kind, tmp_path)
    words = ["Alice", "met", "Berlinbirds", "in", "Paris", "."]  # "Berlinbirds" is split into several pieces
    (aligned,) = split_words(tok, [words])
    assert len(aligned.input_ids) == len(aligned.word_ids)
    assert sorted(set(aligned.word_ids)) == list(range(len(words)))
    # Pieces of each word decode back to the word, so labels land on the right word.
    for i, word in enumerate(words):
        pieces = [p for p, w in zip(aligned.input_ids, aligned.word_ids) if w == i]
        assert tok.decode(pieces).replace(" ", "").replace("##", "") == word
    assert aligned.word_ids.count(2) > 1
    labels = first_subword_labels(aligned.word_ids, list(range(10, 10 + len(words))))
    assert [label for label in labels if label != IGNORE_INDEX] == list(range(10, 10 + len(words)))


def test_bpe_word_in_a_sentence_gets_the_same_pieces_as_in_running_text(tmp_path: Path) -> None:
    """A pre-split word must be tokenized as in running text (with its leading space), or GPT
    would see sub-words it never saw in pretraining."""
    tok = tokenizer("bpe", tmp_path)
    words = ["the", "cat", "sat", "in", "Paris"]
    (aligned,) = split_words(tok, [words])
    assert aligned.input_ids == tok(" ".join(words), add_special_tokens=False)["input_ids"]
