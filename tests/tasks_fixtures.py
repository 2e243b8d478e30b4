"""Tiny tokenizers, tiny Hugging Face backbones (loaded through `hf:`) and tiny task files for the tasks tests."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import (
    BertConfig,
    BertForPreTraining,
    GPT2Config,
    GPT2LMHeadModel,
    ModernBertConfig,
    ModernBertDecoderConfig,
    ModernBertDecoderForCausalLM,
    ModernBertForMaskedLM,
    PreTrainedTokenizerFast,
)

from pretrain.data.tokenizer import build_tokenizer

torch.set_num_threads(1)

WORDS = ("the cat sat on a mat while Alice met Bob in Paris and London ; dogs run fast , "
         "birds fly high . it rains today but tomorrow sun shines over Berlin river").split()
SENTENCES = [" ".join(WORDS[i:i + 9]) for i in range(0, len(WORDS) - 9)] * 3
TAGGED = [
    (["Alice", "met", "Bob", "in", "Paris"], ["B-PER", "O", "B-PER", "O", "B-LOC"]),
    (["the", "cat", "sat", "in", "New", "London"], ["O", "O", "O", "O", "B-LOC", "I-LOC"]),
    (["Bob", "Alice", "flew", "over", "Berlin", "."], ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]),
    (["dogs", "run", "fast", "in", "Paris"], ["O", "O", "O", "O", "B-LOC"]),
]


def tokenizer(kind: str, cache_dir: Path) -> PreTrainedTokenizerFast:
    """`wordpiece` or `bpe`, trained by the suite's own tokenizer code on a few sentences."""
    return build_tokenizer(kind, 300 if kind == "bpe" else 120, SENTENCES, cache_dir)


def hf_backbone(family: str, directory: Path) -> str:
    """Save a random tiny BertForPreTraining (WordPiece) or GPT2LMHeadModel (BPE); return `hf:<dir>`."""
    torch.manual_seed(0)
    tok = tokenizer("wordpiece" if family == "bert" else "bpe", directory.parent / "tok-cache")
    if family == "bert":
        model = BertForPreTraining(BertConfig(
            vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=64, pad_token_id=tok.pad_token_id))
    else:
        model = GPT2LMHeadModel(GPT2Config(
            vocab_size=len(tok), n_embd=32, n_layer=2, n_head=4, n_positions=64,
            bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id))
    model.save_pretrained(directory)
    tok.save_pretrained(directory)
    return f"hf:{directory}"


def modernbert_backbone(family: str, directory: Path) -> Path:
    """Save a random tiny ModernBertForMaskedLM (bert) or ModernBertDecoderForCausalLM (gpt), an Ettin-style
    pair member, with a suite WordPiece tokenizer beside it (its special ids in the config); return the folder."""
    torch.manual_seed(0)
    tok = tokenizer("wordpiece", directory.parent / "tok-cache")
    ids = dict(pad_token_id=tok.pad_token_id, bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id,
               cls_token_id=tok.cls_token_id, sep_token_id=tok.sep_token_id)
    shape = dict(vocab_size=len(tok), hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                 max_position_embeddings=128, local_attention=16, global_attn_every_n_layers=2)
    model = (ModernBertForMaskedLM(ModernBertConfig(**shape, **ids)) if family == "bert"
             else ModernBertDecoderForCausalLM(ModernBertDecoderConfig(**shape, **ids)))
    model.save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def classification_files(directory: Path) -> dict[str, Path]:
    """A TSV per split: text <TAB> label, label = whether the text mentions a city."""
    cities = {"Paris", "London", "Berlin"}
    rows = ["text\tlabel"] + [f"{s}\t{'city' if cities & set(s.split()) else 'other'}" for s in SENTENCES[:16]]
    return {split: write_lines(directory / f"{split}.tsv", rows) for split in ("train", "validation", "test")}


def conll_files(directory: Path) -> dict[str, Path]:
    lines = ["-DOCSTART- O", ""]
    for tokens, tags in TAGGED * 2:
        lines += [f"{t} {g}" for t, g in zip(tokens, tags)] + [" "]  # whitespace-only separator
    return {split: write_lines(directory / f"{split}.conll", lines) for split in ("train", "validation", "test")}


def generation_files(directory: Path) -> dict[str, Path]:
    """JSONL; the test file has two references per source (one line each)."""
    pairs = [(s, " ".join(s.split()[:3])) for s in SENTENCES[:8]]
    files = {}
    for split in ("train", "validation", "test"):
        lines = [json.dumps({"source": s, "target": t}) for s, t in pairs]
        if split == "test":
            lines += [json.dumps({"source": s, "target": t.upper()}) for s, t in pairs]
        files[split] = write_lines(directory / f"{split}.jsonl", lines)
    return files


def source_option(files: dict[str, Path]) -> str:
    """`--data.source=...`: local files as one data source (train is the name, the rest its splits)."""
    splits = {split: str(path) for split, path in files.items() if split != "train"}
    return f"--data.source={json.dumps({'name': str(files['train']), 'splits': splits})}"
