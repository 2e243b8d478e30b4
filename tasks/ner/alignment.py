"""Word-level tags onto sub-word tokens: the first sub-word of a word carries its tag, the rest are
ignored (-100), as in BERT's NER fine-tuning (Devlin et al. 2018, section 5.3).

Words go through the tokenizer pre-split (`is_split_into_words=True`) and `word_ids()` says which
word each token came from, for WordPiece and byte-level BPE alike. Every word but the first gets a
leading space, so a byte-level BPE sees it as it appears in running text ("Ġword"), with or
without the tokenizer's add_prefix_space; WordPiece's pre-tokenizer drops that space.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from tasks.encoding import IGNORE_INDEX


@dataclass
class AlignedWords:
    input_ids: list[int]  # sub-words, no special tokens
    word_ids: list[int | None]  # per sub-word: index of its word


def split_words(tokenizer: PreTrainedTokenizerBase, sentences: Sequence[Sequence[str]]) -> list[AlignedWords]:
    words = [[w if i == 0 else f" {w}" for i, w in enumerate(sentence)] for sentence in sentences]
    encoding = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
    return [AlignedWords(encoding["input_ids"][i], encoding.word_ids(i)) for i in range(len(words))]


def first_subword_labels(word_ids: Sequence[int | None], word_labels: Sequence[int]) -> list[int]:
    """Per sub-word: the word's label on its first sub-word, IGNORE_INDEX elsewhere."""
    labels = []
    previous = None
    for word in word_ids:
        labels.append(word_labels[word] if word is not None and word != previous else IGNORE_INDEX)
        previous = word
    return labels


def first_subword_positions(word_ids: Sequence[int | None], n_words: int) -> list[int]:
    """Per word: the position of its first sub-word, or -1 when it has none (dropped by
    truncation, or a word the tokenizer maps to nothing); such words are predicted "O"."""
    positions = [-1] * n_words
    for position, word in enumerate(word_ids):
        if word is not None and positions[word] < 0:
            positions[word] = position
    return positions
