"""Publish a suite checkpoint as a Hugging Face model folder:

    python -m pretrain.hf.export runs/bert/checkpoints/last.ckpt exported/bert   # then AutoModel*.from_pretrained

A `pretrain` checkpoint becomes the transformers class of its layout (`to_hf`: ModernBertForMaskedLM /
ModernBertDecoderForCausalLM for the matched presets, BertForPreTraining / GPT2LMHeadModel for the
classic ones). A `finetune` checkpoint becomes what its task's record says (tasks.record.HubExport): for
classification or NER the sequence / token classification class whose head computes exactly our logits; where
none does the export stops with one line saying why and what to change, instead of writing a model with other
logits. A GPT generation checkpoint is its causal LM. Beside the weights (safetensors): the tokenizer
(`AutoTokenizer.from_pretrained(DIR)` loads it), the config's special-token ids from that tokenizer,
and a model card (README.md) with the layout, objective, data, tokens seen, validation metrics and the
command that made the checkpoint. The folder is written under a temporary name and renamed into place.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import transformers
from tokenizers import Tokenizer, processors
from torch import Tensor, nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from pretrain.checkpoint import (
    CHECKPOINT_FORMAT,
    MODEL_PREFIX,
    Backbone,
    load_backbone,
    load_checkpoint_file,
    locate_stored_source,
    read_checkpoint,
    suite_backbone,
)
from pretrain.data.caching import atomic_directory
from pretrain.data.tokenizer import SPECIAL_TOKENS, SPECIAL_TOKENS_MAP
from pretrain.family import MLM_PROBABILITY
from pretrain.hf import to_hf
from pretrain.hf.modernbert import is_modernbert_layout
from pretrain.hf.state import load_exactly
from pretrain.run_layout import RunLayout
from pretrain.run_record import read_run_config, read_run_metrics
from tasks.record import Task
from tasks.registry import TASKS, task_record

_BERT_INPUTS = "`[CLS] a [SEP]` / `[CLS] a [SEP] b [SEP]` (what the tokenizer adds)"
_GPT_INPUTS = ("no special tokens added by the tokenizer; documents joined by `<|endoftext|>`, a task input "
               "`a [SEP] b <|endoftext|>`")
PRETRAINING = "pretraining"  # Exported.task of a `pretrain` checkpoint; a `finetune` one has its task's name


@dataclass
class Exported:
    """What one export writes: the transformers model, the backbone it came from and the card's facts."""

    model: PreTrainedModel
    backbone: Backbone
    task: str  # PRETRAINING or the fine-tuned task's name
    step: int
    command: str  # the suite command that made the checkpoint
    hyper_parameters: dict[str, Any]
    tokens_seen: int | None = None
    validation: dict[str, float] = field(default_factory=dict)
    run_config: dict[str, Any] = field(default_factory=dict)


def export(checkpoint: str | Path, directory: str | Path) -> Path:
    """Write `checkpoint` (a `pretrain` or `finetune` .ckpt) as a Hugging Face folder at `directory`."""
    # Absolute, so that the model card names the files from wherever it is read.
    checkpoint, directory = Path(checkpoint).resolve(), Path(directory)
    if directory.exists():
        raise ValueError(f"{directory} already exists; export into a new folder (or remove it first)")
    raw = load_checkpoint_file(checkpoint)  # memory-mapped: reading which kind it is reads no weights
    exported = _pretraining(checkpoint) if "pretrain_format" in raw else _finetuned(checkpoint, raw)
    tokenizer = export_tokenizer(exported.backbone)
    set_special_token_ids(exported.model, tokenizer)
    with atomic_directory(directory) as tmp:
        exported.model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "README.md").write_text(model_card(exported, checkpoint), encoding="utf-8")
    return directory


def _run_config(checkpoint: Path) -> dict[str, Any]:
    return read_run_config(RunLayout.of_checkpoint(checkpoint).root)


def _pretraining(checkpoint: Path) -> Exported:
    raw = read_checkpoint(checkpoint)  # the checked suite checkpoint: its step, tokens and settings
    backbone = suite_backbone(raw, checkpoint)
    logged = read_run_metrics(RunLayout.of_checkpoint(checkpoint).root)
    metrics = {k: v for k, v in logged.items() if k.startswith("val/")}
    return Exported(
        model=to_hf(backbone.model).eval(), backbone=backbone, task=PRETRAINING, step=int(raw.get("global_step", 0)),
        command="pretrain fit", hyper_parameters=dict(raw["hyper_parameters"]),
        tokens_seen=int(raw["tokens_seen"]) if "tokens_seen" in raw else None, validation=metrics,
        run_config=_run_config(checkpoint),
    )


def _task_of(checkpoint: Path, state: dict[str, Tensor]) -> Task:
    """The task of a `finetune` checkpoint, from the head its state holds (tasks/*/module.py)."""
    exportable = [record for record in map(task_record, TASKS) if record.hub is not None]
    for record in exportable:  # a task head first: a whole-model task's keys could sit beside one
        if record.hub.head_prefix is not None and f"{record.hub.head_prefix}weight" in state:
            return record
    whole = next((record for record in exportable if record.hub.head_prefix is None), None)
    if whole is not None and any(k.startswith(MODEL_PREFIX) for k in state):
        return whole
    raise ValueError(f"checkpoint {checkpoint} is neither a `pretrain` nor a `finetune` checkpoint of this suite "
                     f"(format {CHECKPOINT_FORMAT}); expected the weights of a pretraining model or a task head")


def _finetuned(checkpoint: Path, raw: dict[str, Any]) -> Exported:
    hp = dict(raw.get("hyper_parameters") or {})
    state: dict[str, Tensor] = raw["state_dict"]
    task = _task_of(checkpoint, state)
    hub = task.hub
    assert hub is not None
    if not hp.get("checkpoint"):
        raise ValueError(f"checkpoint {checkpoint}: no model.checkpoint among its hyper_parameters; "
                         "it was not saved by the `finetune` command")
    hp["checkpoint"] = locate_stored_source(str(hp["checkpoint"]), checkpoint)  # the card names this one
    try:  # the backbone gives the architecture and tokenizer; the fine-tuned state replaces its weights
        backbone = load_backbone(hp["checkpoint"], hp.get("family"))
    except (OSError, ValueError) as error:
        raise ValueError(f"checkpoint {checkpoint} was fine-tuned from model.checkpoint={hp['checkpoint']!r}, "
                         f"which the export needs for the architecture and tokenizer: {error}") from error
    family = backbone.family
    layout = "modernbert" if is_modernbert_layout(backbone.config) else "classic"
    if (family, layout) in hub.no_exact_class:
        raise ValueError(f"checkpoint {checkpoint}: no exact Hugging Face export of a {layout} {family} {task.name} "
                         f"model: {hub.no_exact_class[family, layout]}")
    if hub.pooler and hp.get("pooling") != "native":
        raise ValueError(f"checkpoint {checkpoint} was fine-tuned with model.pooling={hp.get('pooling')!r}; "
                         f"{hub.classes[family, layout]} reads the pooled [CLS], so only `--model.init_args.pooling "
                         "native` fine-tunings export exactly")
    if hp.get("decoder_attention", "causal") != "causal":
        raise ValueError(f"checkpoint {checkpoint} was fine-tuned with model.decoder_attention="
                         f"{hp['decoder_attention']!r}; transformers' decoder classes are causal, so only causal "
                         "fine-tunings export exactly")
    model = backbone.model
    if hub.head_prefix is None:  # the task fine-tunes the whole model: it is exported as its LM class
        _load(model, state, MODEL_PREFIX, checkpoint)
        hf_model = to_hf(model).eval()
    else:
        record = backbone.record
        _load(getattr(model, record.body), state, "body.", checkpoint)
        if hub.pooler:
            _load(model.pooler, state, "pooler.", checkpoint)
        hf_model = _task_model(hub.classes[family, layout], to_hf(model), state, hub.head_prefix,
                               list(raw.get("label_names", [])))
    validation = {k: float(v) for k, v in (raw.get("validation_metrics") or {}).items()}
    return Exported(model=hf_model, backbone=backbone, task=task.name, step=int(raw.get("global_step", 0)),
                    command="finetune fit", hyper_parameters=hp, validation=validation,
                    run_config=_run_config(checkpoint))


def _load(module: nn.Module, state: dict[str, Tensor], prefix: str, checkpoint: Path) -> None:
    """Load the `prefix` part of a fine-tuned state into `module`, every parameter or none."""
    part = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    try:
        load_exactly(module, part)
    except (ValueError, RuntimeError) as error:
        raise ValueError(f"checkpoint {checkpoint}: its {prefix.rstrip('.')} weights do not fit the backbone "
                         f"it names: {str(error).splitlines()[0]}") from error


def _task_model(class_name: str, pretraining: PreTrainedModel, state: dict[str, Tensor], head: str,
                labels: list[str]) -> PreTrainedModel:
    """`class_name` with the backbone of `pretraining` (the converted LM class) and our task head (the
    classifier under `head` in `state`)."""
    n_labels = state[f"{head}weight"].shape[0]
    labels = labels if len(labels) == n_labels else [f"LABEL_{i}" for i in range(n_labels)]
    config = copy.deepcopy(pretraining.config)
    config.id2label, config.label2id = dict(enumerate(labels)), {name: i for i, name in enumerate(labels)}
    model = getattr(transformers, class_name)(config)
    wanted = model.state_dict().keys()
    weights = {k: v for k, v in pretraining.state_dict().items() if k in wanted}
    weights.update({f"classifier.{kind}": state[f"{head}{kind}"] for kind in ("weight", "bias")})
    load_exactly(model, weights)  # fails on any parameter of the class our checkpoint does not hold
    return model.to(pretraining.dtype).eval()


def export_tokenizer(backbone: Backbone) -> PreTrainedTokenizerBase:
    """The backbone's tokenizer as transformers saves it, knowing the model's length. A suite tokenizer
    (all six special tokens) keeps its [CLS] A [SEP] template for BERT; GPT's adds no special tokens, as
    GPT-2's does not (the suite's GPT code never lets it: it joins documents with <|endoftext|> itself).
    Token type ids only where the model has a segment table (ModernBERT's and GPT-2's forward take none
    that mean what ours do)."""
    tokenizer, config = backbone.tokenizer, backbone.config
    segments = backbone.record.input_format.segment_ids and config.type_vocab_size > 0
    names = ["input_ids", "token_type_ids", "attention_mask"] if segments else ["input_ids", "attention_mask"]
    vocab = tokenizer.get_vocab()
    if not all(token in vocab for token in SPECIAL_TOKENS):  # a hub tokenizer (an hf: backbone): as it came
        tokenizer.model_max_length = config.max_positions
        tokenizer.model_input_names = names
        return tokenizer
    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    if backbone.record.decoder_only:
        plain = processors.TemplateProcessing(single="$A", pair="$A $B:1", special_tokens=[])
        byte_level = json.loads(backend.to_str()).get("pre_tokenizer", {}) or {}
        backend.post_processor = (processors.Sequence([processors.ByteLevel(trim_offsets=True), plain])
                                  if byte_level.get("type") == "ByteLevel" else plain)
    return PreTrainedTokenizerFast(tokenizer_object=backend, **SPECIAL_TOKENS_MAP,
                                   model_max_length=config.max_positions, model_input_names=names)


def set_special_token_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
    """The config's (and generation config's) pad/bos/eos/cls/sep ids from the tokenizer: `to_hf` knows only
    the pad id (see pretrain.hf.modernbert.config_to_hf)."""
    ids = {name: getattr(tokenizer, f"{name}_token_id", None) for name in ("pad", "bos", "eos", "cls", "sep")}
    for name, value in ids.items():
        if value is not None and (name in ("pad", "bos", "eos") or hasattr(model.config, f"{name}_token_id")):
            setattr(model.config, f"{name}_token_id", value)
    generation = getattr(model, "generation_config", None)
    if generation is not None:
        for name in ("pad", "bos", "eos"):
            if ids[name] is not None:
                setattr(generation, f"{name}_token_id", ids[name])


def _objective(exported: Exported) -> str:
    hp, family = exported.hyper_parameters, exported.backbone.family
    if exported.task == PRETRAINING:
        if family == "bert":
            nsp = " plus next-sentence prediction" if hp.get("nsp", True) else ""
            data = (exported.run_config.get("data") or {}).get("init_args") or {}
            rate = data.get("mlm_probability", MLM_PROBABILITY)  # the run's own rate (no config: the default)
            return f"masked language modelling ({rate:.0%} of tokens){nsp} (Devlin et al. 2018)"
        return "next-token language modelling (Radford et al. 2018)"
    hub = task_record(exported.task).hub
    labels = ", ".join(exported.model.config.id2label.values()) if hub and hub.head_prefix else ""
    source = hp.get("checkpoint")
    readout = f"; readout: {hp['pooling']} pooling" if "pooling" in hp else ""
    return (f"fine-tuned for {exported.task} from `{source}`{readout}" + (f"; labels: {labels}" if labels else "")
            + ("; random-init control (no pretraining)" if hp.get("random_init") else ""))


def model_card(exported: Exported, checkpoint: Path) -> str:
    """README.md: what the model is, how it was trained and scored, and how to load it."""
    config, family = exported.backbone.config, exported.backbone.family
    hub = task_record(exported.task).hub if exported.task != PRETRAINING else None
    tag = hub.pipeline_tag if hub is not None else exported.backbone.record.hf_pipeline_tag
    layout = "matched layout (ModernBERT's, as in Ettin)" if is_modernbert_layout(config) else "classic layout"
    data = ((exported.run_config.get("data") or {}).get("init_args") or {}).get("source", "not recorded")
    seen = f"{exported.tokens_seen:,}" if exported.tokens_seen is not None else "not recorded in the checkpoint"
    metrics = "\n".join(f"| {k} | {v:.4g} |" for k, v in sorted(exported.validation.items())) or "| (none recorded) | |"
    run = RunLayout.of_checkpoint(checkpoint)
    where = ("the checkpoint (the validation that selected it)" if exported.task != PRETRAINING else
             f"the run's {RunLayout.METRICS_FILE} ({run.root}; last logged values of the run)")
    command = (f"{exported.command} --config {run.config_file}" if exported.run_config
               else f"{exported.command} (no {RunLayout.CONFIG_FILE} beside the checkpoint)")
    sizes = (f"d_model {config.d_model}, {config.n_layers} layers, {config.n_heads} heads, d_ff {config.d_ff}, "
             f"vocab {config.vocab_size}, max_positions {config.max_positions}")
    return f"""---
library_name: transformers
pipeline_tag: {tag}
tags: [bert-vs-gpt, {family}]
---

# {type(exported.model).__name__} exported from the BERT-vs-GPT suite

- **Architecture**: {family.upper()} family, {layout}; {sizes}; as `{type(exported.model).__name__}`
  (model_type `{exported.model.config.model_type}`), logits equal to the suite's in fp32.
- **Objective**: {_objective(exported)}.
- **Data**: `{json.dumps(data) if not isinstance(data, str) else data}`.
- **Training**: step {exported.step}; tokens seen: {seen}.
- **Made by**: `{command}`; exported with `python -m pretrain.hf.export {checkpoint} DIR`.

## Validation metrics

From {where}:

| metric | value |
|---|---:|
{metrics}

## Use

```python
from transformers import AutoTokenizer, {type(exported.model).__name__}
tokenizer = AutoTokenizer.from_pretrained("DIR")
model = {type(exported.model).__name__}.from_pretrained("DIR")
```

The tokenizer is the suite's ({len(exported.backbone.tokenizer)} tokens). Inputs as the suite fed them:
{_BERT_INPUTS if family == 'bert' else _GPT_INPUTS}.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pretrain.hf.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a `pretrain` or `finetune` checkpoint (.ckpt)")
    parser.add_argument("directory", help="the Hugging Face folder to write (must not exist)")
    args = parser.parse_args(argv)
    transformers.utils.logging.disable_progress_bar()  # loading an hf: backbone would draw bars around the one line
    try:
        written = export(args.checkpoint, args.directory)
    except (ValueError, OSError) as error:
        print(f"export: error: {str(error).splitlines()[0] if str(error) else type(error).__name__}", file=sys.stderr)
        return 2
    print(f"exported {args.checkpoint} -> {written}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
