"""Load a pretrained backbone (model + config + tokenizer) from one self-contained checkpoint.

Fine-tuning needs nothing but the .ckpt file: `PretrainingModule.on_save_checkpoint` stores the
family, the model config (plain dict) and the tokenizer JSON next to the weights.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast

from pretrain.blocks.config import TransformerConfig
from pretrain.lightning.base import CHECKPOINT_FORMAT
from pretrain.models.bert import BertModel
from pretrain.models.gpt import GptModel

FAMILIES = ("bert", "gpt")
# The agreed special tokens of every suite tokenizer; used when a checkpoint lacks the map.
DEFAULT_SPECIAL_TOKENS = {
    "pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]",
    "mask_token": "[MASK]", "eos_token": "<|endoftext|>", "bos_token": "<|endoftext|>",
}
MODEL_PREFIX = "model."  # the LightningModule holds the nn.Module as `self.model`


@dataclass
class Backbone:
    family: str  # "bert" | "gpt"
    model: BertModel | GptModel  # weights loaded, in eval mode
    config: TransformerConfig
    tokenizer: PreTrainedTokenizerFast


def read_checkpoint(path: str | Path, expected_family: str | None = None) -> dict[str, Any]:
    """torch.load a suite checkpoint and check it is one, failing with an error that names the file."""
    path = Path(path)
    if expected_family is not None and expected_family not in FAMILIES:
        raise ValueError(f"expected_family={expected_family!r} must be one of {', '.join(FAMILIES)} or None")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist (or is not a file)")
    try:
        # weights_only: a checkpoint is data, never code to run.
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, OSError) as error:
        raise ValueError(
            f"checkpoint {path} cannot be read ({type(error).__name__}: {str(error).splitlines()[0]}); "
            "the file is truncated, corrupted or not a PyTorch checkpoint"
        ) from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ValueError(f"checkpoint {path} is not a Lightning checkpoint (no 'state_dict')")
    hp = checkpoint.get("hyper_parameters") or {}
    family = hp.get("family")
    if family not in FAMILIES or not isinstance(hp.get("config"), dict) or "pretrain_format" not in checkpoint:
        raise ValueError(
            f"checkpoint {path} was not written by this suite's `pretrain` command "
            "(no family/config/pretrain_format); convert Hugging Face weights with pretrain.hf instead"
        )
    if checkpoint["pretrain_format"] > CHECKPOINT_FORMAT:
        raise ValueError(
            f"checkpoint {path} has format {checkpoint['pretrain_format']}, newer than this code "
            f"({CHECKPOINT_FORMAT}); update the suite"
        )
    if expected_family is not None and family != expected_family:
        raise ValueError(f"checkpoint {path} holds a {family!r} model, expected {expected_family!r}")
    return checkpoint


def load_backbone(path: str | Path, expected_family: str | None = None) -> Backbone:
    """Model (eval mode, on CPU), config and tokenizer of a `pretrain` checkpoint."""
    checkpoint = read_checkpoint(path, expected_family)
    hp = checkpoint["hyper_parameters"]
    try:
        config = TransformerConfig(**hp["config"])
    except (TypeError, ValueError) as error:
        raise ValueError(f"checkpoint {path}: invalid model config: {error}") from error
    if "tokenizer_json" not in checkpoint:
        raise ValueError(f"checkpoint {path} has no tokenizer (saved without a data module holding one)")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(checkpoint["tokenizer_json"]),
        **checkpoint.get("tokenizer_special_tokens", DEFAULT_SPECIAL_TOKENS),
    )
    if len(tokenizer) != config.vocab_size:
        raise ValueError(
            f"checkpoint {path}: tokenizer has {len(tokenizer)} tokens but the model's embedding has "
            f"vocab_size={config.vocab_size}; the checkpoint is inconsistent"
        )
    model: BertModel | GptModel = BertModel(config) if hp["family"] == "bert" else GptModel(config)
    state = {k[len(MODEL_PREFIX):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(MODEL_PREFIX)}
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(f"checkpoint {path}: weights do not match its config: {error}") from error
    model.eval()
    return Backbone(family=hp["family"], model=model, config=config, tokenizer=tokenizer)
