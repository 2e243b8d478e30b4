"""Train (or load) the suite's tokenizers: WordPiece (BERT style) and byte-level BPE (GPT style).

Both kinds carry the same six special tokens at the same ids, so either model family
can use either tokenizer and the default comparison shares one.
Both also add ``[CLS] A [SEP]`` / ``[CLS] A [SEP] B [SEP]`` when called with
``add_special_tokens=True`` (the default, which is what encoder fine-tuning wants);
causal-LM code calls them with ``add_special_tokens=False`` and joins documents with
``<|endoftext|>`` itself. Trained tokenizers are cached under
``cache_dir/tokenizers/<kind>-<vocab>-<hash of corpus fingerprint and settings>/``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import datasets
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from pretrain.data.caching import atomic_directory, resolve_cache_dir, stable_hash

# Bump when training changes so that old caches are not reused (2: WordPiece trained identically in every process).
TOKENIZER_VERSION = 2
PAD, UNK, CLS, SEP, MASK, EOS = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<|endoftext|>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, UNK, CLS, SEP, MASK, EOS)  # ids 0..5, in this order, for every kind
# transformers' names for them (its `special_tokens_map`); <|endoftext|> also starts a document, as in GPT-2.
SPECIAL_TOKENS_MAP: dict[str, str] = {
    "pad_token": PAD, "unk_token": UNK, "cls_token": CLS, "sep_token": SEP, "mask_token": MASK, "eos_token": EOS,
    "bos_token": EOS,
}
TOKENIZER_KINDS = ("wordpiece", "bpe")
_BYTE_ALPHABET = len(pre_tokenizers.ByteLevel.alphabet())
_PRIVATE_USE_START = 0xF0000  # Supplementary Private Use Area-A: stands in for "##x" while training WordPiece

TextSource = datasets.Dataset | datasets.IterableDataset | Sequence[str]


def _texts(texts: TextSource, batch_size: int = 1000) -> Iterator[list[str]]:
    if isinstance(texts, datasets.Dataset):
        for start in range(0, len(texts), batch_size):
            yield texts[start : start + batch_size]["text"]
    elif isinstance(texts, datasets.IterableDataset):
        for batch in texts.iter(batch_size=batch_size):
            yield batch["text"]
    else:
        for start in range(0, len(texts), batch_size):
            yield list(texts[start : start + batch_size])


def corpus_fingerprint(texts: TextSource) -> str:
    """``datasets``' own fingerprint when there is one; otherwise a hash of the content."""
    fingerprint = getattr(texts, "_fingerprint", None)
    if isinstance(fingerprint, str):
        return fingerprint
    digest = hashlib.sha256()
    for batch in _texts(texts):
        for text in batch:
            digest.update(text.encode("utf-8"))
            digest.update(b"\0")
    return digest.hexdigest()


def _template() -> processors.TemplateProcessing:
    ids = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    return processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}",
        pair=f"{CLS} $A {SEP} $B:1 {SEP}:1",  # token_type_ids 1 for segment B, as in BERT (arXiv:1810.04805)
        special_tokens=[(CLS, ids[CLS]), (SEP, ids[SEP])],
    )


def _new_tokenizer(kind: str, vocab_size: int) -> tuple[Tokenizer, trainers.Trainer]:
    if kind == "wordpiece":
        tokenizer = Tokenizer(models.WordPiece(unk_token=UNK, continuing_subword_prefix="##"))
        # Cased: identifiers such as ValueError and tkinter's INDEX1 carry meaning in their case.
        tokenizer.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                          strip_accents=False, lowercase=False)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.decoder = decoders.WordPiece(prefix="##")
        tokenizer.post_processor = _template()
        # WordPiece vocabularies are learned by BPE merges, as WordPieceTrainer itself does; see _train_wordpiece.
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), show_progress=True)
        return tokenizer, trainer
    if kind == "bpe":
        tokenizer = Tokenizer(models.BPE())
        # add_prefix_space: a word gets the same tokens at the start of a text as in its middle, which is what
        # word-level alignment for NER needs (tokenizer(words, is_split_into_words=True).word_ids()).
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tokenizer.decoder = decoders.ByteLevel()
        tokenizer.post_processor = processors.Sequence([processors.ByteLevel(trim_offsets=True), _template()])
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=True)
        return tokenizer, trainer
    raise ValueError(f"tokenizer kind '{kind}' is not supported: expected one of {TOKENIZER_KINDS}")


def _train_wordpiece(tokenizer: Tokenizer, trainer: trainers.BpeTrainer, batches: Iterator[list[str]]) -> None:
    """Learn ``tokenizer``'s WordPiece vocabulary from ``batches`` with the same result in every process.

    tokenizers' WordPieceTrainer creates the ``##x`` tokens while iterating over a hash map whose
    order is random per process, and their ids break ties between equally frequent merges, so two
    trainings on the same text differ in hundreds of tokens
    (https://github.com/huggingface/tokenizers/issues/1794). Here each character that continues a
    word is respelled as a private-use character of its own, which puts every ``##x`` symbol into
    the base alphabet the trainer sorts; byte-identical BPE merges are learned on the respelled words
    and their vocabulary is read back as WordPiece. Merges, counts and vocabulary size are those of
    WordPieceTrainer; only ties are broken by a fixed order.
    """
    counts: Counter[str] = Counter()
    for batch in batches:
        for text in batch:
            normalized = tokenizer.normalizer.normalize_str(text)
            counts.update(word for word, _ in tokenizer.pre_tokenizer.pre_tokenize_str(normalized))
    alphabet = sorted({c for word in counts for c in word})
    used = set(alphabet)
    free = (chr(code) for code in itertools.count(_PRIVATE_USE_START) if chr(code) not in used)
    respell = dict(zip(sorted({c for word in counts for c in word[1:]}), free))
    read_back = {spelled: c for c, spelled in respell.items()}

    def respelled_words() -> Iterator[str]:
        for word, count in sorted(counts.items()):
            spelled = word[0] + "".join(respell[c] for c in word[1:])
            yield " ".join([spelled] * count)

    respelled = Tokenizer(models.BPE())
    respelled.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer.initial_alphabet = alphabet  # every character also starts a word, as in WordPieceTrainer
    respelled.train_from_iterator(respelled_words(), trainer=trainer)
    vocab = {("##" if token[0] in read_back else "") + "".join(read_back.get(c, c) for c in token): index
             for token, index in respelled.get_vocab().items()}
    tokenizer.model = models.WordPiece(vocab=vocab, unk_token=UNK, continuing_subword_prefix="##")
    tokenizer.add_special_tokens(list(SPECIAL_TOKENS))


def wrap_tokenizer(tokenizer_file: str | Path) -> PreTrainedTokenizerFast:
    """Load a tokenizer.json as a ``PreTrainedTokenizerFast`` with all six special tokens set.

    Raises if the file lacks any of them, because MLM needs [MASK], NSP needs
    [CLS]/[SEP] and packing needs <|endoftext|>.
    """
    path = Path(tokenizer_file)
    if not path.is_file():
        raise FileNotFoundError(f"tokenizer file {path} does not exist: expected a tokenizer.json "
                                "saved by the `tokenizers` library")
    try:
        backend = Tokenizer.from_file(str(path))
    except Exception as error:  # the Rust side raises a plain Exception for malformed JSON
        raise ValueError(f"{path} is not a valid tokenizer.json: {error}") from error
    missing = [t for t in SPECIAL_TOKENS if backend.token_to_id(t) is None]
    if missing:
        raise ValueError(f"{path} lacks the special tokens {missing}: expected all of {list(SPECIAL_TOKENS)}; "
                         "train one with build_tokenizer() or add them with Tokenizer.add_special_tokens")
    return PreTrainedTokenizerFast(tokenizer_file=str(path), **SPECIAL_TOKENS_MAP,
                                   model_input_names=["input_ids", "token_type_ids", "attention_mask"])


def build_tokenizer(kind: str, vocab_size: int, texts_dataset: TextSource, cache_dir: str | Path,
                    tokenizer_file: str | None = None) -> PreTrainedTokenizerFast:
    """Train a ``kind`` tokenizer of ``vocab_size`` on ``texts_dataset`` (``text`` column), or load a cached one.

    With ``tokenizer_file`` the given tokenizer.json is used instead and nothing is trained.
    """
    if tokenizer_file is not None:
        return wrap_tokenizer(tokenizer_file)
    if kind not in TOKENIZER_KINDS:
        raise ValueError(f"tokenizer kind '{kind}' is not supported: expected one of {TOKENIZER_KINDS}")
    minimum = len(SPECIAL_TOKENS) + (_BYTE_ALPHABET if kind == "bpe" else 1)
    if vocab_size < minimum:
        raise ValueError(f"vocab_size={vocab_size} is too small for a {kind} tokenizer: expected at least "
                         f"{minimum} (special tokens{' + 256 byte symbols' if kind == 'bpe' else ''})")
    key = stable_hash(TOKENIZER_VERSION, kind, vocab_size, SPECIAL_TOKENS, corpus_fingerprint(texts_dataset))
    target = resolve_cache_dir(cache_dir) / "tokenizers" / f"{kind}-{vocab_size}-{key}"
    if not (target / "tokenizer.json").is_file():
        tokenizer, trainer = _new_tokenizer(kind, vocab_size)
        # The trainer's own bar shows on a terminal only; this line also reaches logs (then cached: said once).
        print(f"[data] training a {kind} tokenizer of {vocab_size} tokens, cached in {target}", file=sys.stderr,
              flush=True)
        if kind == "wordpiece":
            _train_wordpiece(tokenizer, trainer, _texts(texts_dataset))
        else:  # byte-level BPE has no "##x" symbols: its alphabet is all 256 bytes, sorted, so it is deterministic
            tokenizer.train_from_iterator(_texts(texts_dataset), trainer=trainer)
        if tokenizer.get_vocab_size() <= len(SPECIAL_TOKENS):
            raise ValueError("the tokenizer training corpus is empty: expected at least one document with text")
        with atomic_directory(target) as tmp:
            tokenizer.save(str(tmp / "tokenizer.json"))
            wrap_tokenizer(tmp / "tokenizer.json").save_pretrained(str(tmp))  # adds tokenizer_config.json
            (tmp / "settings.json").write_text(json.dumps({"kind": kind, "vocab_size": vocab_size}))
    return wrap_tokenizer(target / "tokenizer.json")


def continuation_table(tokenizer: PreTrainedTokenizerFast) -> list[bool]:
    """``table[id]`` is True when the token continues the previous word (whole-word masking needs this)."""
    backend = json.loads(tokenizer.backend_tokenizer.to_str())
    model_type = backend["model"]["type"]
    vocab = tokenizer.get_vocab()
    table = [False] * len(tokenizer)
    special = set(tokenizer.all_special_ids)
    for token, index in vocab.items():
        if index in special or index >= len(table):
            continue
        if model_type == "WordPiece":
            table[index] = token.startswith(backend["model"].get("continuing_subword_prefix", "##"))
        elif model_type == "BPE":
            table[index] = not token.startswith("\u0120")  # "Ġ" marks a byte-level token that starts a word
        else:
            raise ValueError(f"whole-word masking needs a WordPiece or BPE tokenizer, got model type {model_type}")
    return table

