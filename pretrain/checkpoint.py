"""Suite checkpoints and where a backbone comes from: a `pretrain` .ckpt, or a local Hugging Face model.

    read_checkpoint("runs/bert/checkpoints/last.ckpt")   # the checked dict (resume checks, step, config)
    load_backbone("runs/bert/checkpoints/last.ckpt")     # model + config + tokenizer of a suite checkpoint
    load_backbone("hf:/models/ettin-encoder-17m")        # a directory holding a transformers model of a class in
                                                         # Family.hf_classes (BertForPreTraining, GPT2LMHeadModel,
                                                         # ModernBertForMaskedLM, ModernBertDecoderForCausalLM)
                                                         # + its tokenizer (save_pretrained)

A suite checkpoint is self-contained: `PretrainingModule.on_save_checkpoint` stores the family, the
model config (plain dict) and the tokenizer JSON next to the weights, and CHECKPOINT_FORMAT.
Both sources give a `Backbone`, so every task runs for both families from either.
`random_weights(backbone)` keeps the architecture and tokenizer but not the weights: the control
that measures what pretraining adds.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import transformers
from tokenizers import Tokenizer
from torch import nn
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

from pretrain.blocks.config import TransformerConfig
from pretrain.data.tokenizer import SPECIAL_TOKENS_MAP
from pretrain.family import FAMILIES, HF_MODEL_TYPES, Family, check_family, family_of_hf, family_record
from pretrain.hf import from_hf
from pretrain.models.bert import BertModel
from pretrain.models.gpt import GptModel

CHECKPOINT_FORMAT = 1  # bumped when the keys PretrainingModule.on_save_checkpoint writes change
MODEL_PREFIX = "model."  # the LightningModule holds the nn.Module as `self.model`
HF_PREFIX = "hf:"


@dataclass
class Backbone:
    """A pretrained model (eval mode, on CPU), its config and the tokenizer it was trained with."""

    family: str  # one of FAMILIES
    model: BertModel | GptModel
    config: TransformerConfig
    tokenizer: PreTrainedTokenizerBase

    @property
    def record(self) -> Family:
        return family_record(self.family)


def load_checkpoint_file(path: str | Path) -> dict[str, Any]:
    """torch.load any Lightning checkpoint (pretraining or fine-tuning), failing with an error that names the file.

    Memory-mapped: reading the hyperparameters or the step does not read the weights.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist (or is not a file)")
    if not zipfile.is_zipfile(path):  # torch.load would answer with its hint on memory-mapping old formats
        raise ValueError(f"checkpoint {path} cannot be read: it is not a PyTorch checkpoint (torch.save writes a zip "
                         "archive, and this file is none: truncated, corrupted or another kind of file)")
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
    return checkpoint


def read_checkpoint(path: str | Path, expected_family: str | None = None) -> dict[str, Any]:
    """torch.load a suite checkpoint and check it is one, failing with an error that names the file."""
    check_family(expected_family)
    checkpoint = load_checkpoint_file(path)
    hp = checkpoint.get("hyper_parameters") or {}
    stored_family = hp.get("family")
    if stored_family not in FAMILIES or not isinstance(hp.get("config"), dict) or "pretrain_format" not in checkpoint:
        raise ValueError(
            f"checkpoint {path} was not written by this suite's `pretrain` command "
            "(no family/config/pretrain_format); convert Hugging Face weights with pretrain.hf instead"
        )
    if checkpoint["pretrain_format"] > CHECKPOINT_FORMAT:
        raise ValueError(
            f"checkpoint {path} has format {checkpoint['pretrain_format']}, newer than this code "
            f"({CHECKPOINT_FORMAT}); update the suite"
        )
    if expected_family is not None and stored_family != expected_family:
        raise ValueError(f"checkpoint {path} holds a {stored_family!r} model, expected {expected_family!r}")
    return checkpoint


def stored_source(source: str | Path) -> str:
    """A backbone source as a run stores it (hyperparameters, results): absolute, so that the run's files name the
    same backbone from any working directory. `hf:` stays in front; an empty source stays empty (an error later)."""
    source = str(source)
    if not source:
        return source
    prefix = HF_PREFIX if source.startswith(HF_PREFIX) else ""
    return prefix + str(Path(source[len(prefix):]).resolve())


def locate_stored_source(source: str, near: Path) -> str:
    """The absolute form of a backbone source a run stored. A relative one (stored before runs resolved it) was
    relative to the directory the run started in, which the run folder lies below: the nearest folder above `near`
    (the run's checkpoint) under which it exists, else the working directory."""
    prefix = HF_PREFIX if source.startswith(HF_PREFIX) else ""
    path = Path(source[len(prefix):])
    if path.is_absolute() or not source:
        return source
    found = next((base / path for base in Path(near).resolve().parents if (base / path).exists()), path)
    return stored_source(prefix + str(found))


def load_backbone(source: str | Path, expected_family: str | None = None) -> Backbone:
    """The backbone of a `pretrain` checkpoint or of `hf:<directory>`; `expected_family` rejects the other kind."""
    check_family(expected_family)
    source = str(source)
    if not source:
        raise ValueError("model.checkpoint is empty; give a `pretrain` checkpoint (.ckpt) or hf:<local directory>")
    if source.startswith(HF_PREFIX):
        backbone = _load_hf(Path(source[len(HF_PREFIX):]))
    else:
        backbone = _load_suite(Path(source), expected_family)
    if expected_family is not None and backbone.family != expected_family:
        raise ValueError(f"{source} holds a {backbone.family} model, but family={expected_family!r} was expected")
    return backbone


def random_weights(backbone: Backbone) -> Backbone:
    """The same architecture with fresh weights from the model's own initialisation (its constructor's
    `init_weights`), drawn from torch's global RNG, so `seed_everything(s)` fixes them and different
    seeds give different random models. A fresh model rather than `init_weights` on the loaded one:
    parameters outside init_weights' reach (the MLM head's output bias) would otherwise keep
    their pretrained values."""
    nsp = isinstance(backbone.model, BertModel) and backbone.model.nsp
    model = backbone.record.build(backbone.config, nsp=nsp).eval()  # eval like a loaded backbone
    return dataclasses.replace(backbone, model=model)


def body(backbone: Backbone) -> nn.Module:
    """The transformer stack without pretraining heads: BERT's encoder or GPT's decoder."""
    record = backbone.record
    if not isinstance(backbone.model, record.model_class):
        raise ValueError(f"a {backbone.family} backbone must be a {record.model_class.__name__}, "
                         f"got {type(backbone.model).__name__}")
    return getattr(backbone.model, record.body)


def _load_suite(path: Path, expected_family: str | None) -> Backbone:
    """Model (eval mode, on CPU), config and tokenizer of a `pretrain` checkpoint."""
    return suite_backbone(read_checkpoint(path, expected_family), path)


def suite_backbone(checkpoint: dict[str, Any], path: Path) -> Backbone:
    """The Backbone of a checkpoint `read_checkpoint(path)` returned (for callers that also read its other keys)."""
    hp = checkpoint["hyper_parameters"]
    try:
        config = TransformerConfig(**hp["config"])
    except (TypeError, ValueError) as error:
        raise ValueError(f"checkpoint {path}: invalid model config: {error}") from error
    if "tokenizer_json" not in checkpoint:
        raise ValueError(f"checkpoint {path} has no tokenizer (saved without a data module holding one)")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(checkpoint["tokenizer_json"]),
        **checkpoint.get("tokenizer_special_tokens", SPECIAL_TOKENS_MAP),
    )
    if len(tokenizer) != config.vocab_size:
        raise ValueError(
            f"checkpoint {path}: tokenizer has {len(tokenizer)} tokens but the model's embedding has "
            f"vocab_size={config.vocab_size}; the checkpoint is inconsistent"
        )
    state = {k[len(MODEL_PREFIX):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(MODEL_PREFIX)}
    # A BERT pretrained without NSP saved no pooler or NSP head (older checkpoints of such runs did: they load too).
    model = family_record(hp["family"]).build(config, nsp=any(name.startswith("nsp_head.") for name in state))
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(f"checkpoint {path}: weights do not match its config: {error}") from error
    model.eval()
    return Backbone(family=hp["family"], model=model, config=config, tokenizer=tokenizer)


def _load_hf(directory: Path) -> Backbone:
    """A transformers model saved with save_pretrained (no hub access: local files only)."""
    config_file = directory / "config.json"
    if not config_file.is_file():
        raise ValueError(f"hf:{directory}: no config.json there; save the model with save_pretrained(directory)")
    model_type = json.loads(config_file.read_text(encoding="utf-8")).get("model_type")
    record = family_of_hf(model_type)
    if record is None:
        raise ValueError(
            f"{config_file}: model_type={model_type!r} is not supported; expected one of {', '.join(HF_MODEL_TYPES)}"
        )
    hf_model = getattr(transformers, record.hf_classes[model_type]).from_pretrained(directory, local_files_only=True)
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory, local_files_only=True)
    model = from_hf(hf_model)
    return Backbone(family=record.name, model=model, config=model.config, tokenizer=tokenizer)
