"""`python -m pretrain.hf.export`: a suite checkpoint becomes a Hugging Face folder that transformers' Auto
classes load, with our logits (1e-5); fine-tuned heads export only where a class computes them exactly."""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from lightning_fakes import TinyDataModule
from tasks_fixtures import (
    classification_files,
    conll_files,
    generation_files,
    hf_backbone,
    modernbert_backbone,
    source_option,
    tokenizer,
)
from transformers import (
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
)

from pretrain.blocks.config import TransformerConfig
from pretrain.checkpoint import load_backbone
from pretrain.hf.export import main
from pretrain.lightning import BertPretraining, GptPretraining
from tasks.base import TaskModule, connect
from tasks.cli import main as finetune_main

torch.set_num_threads(1)
MODELS = Path(__file__).resolve().parents[1] / "configs" / "model"
TOL = 1e-5


def _pretraining_checkpoint(family: str, run: Path) -> Path:
    """Two steps of the tiny matched preset (the default layout), saved as the `pretrain` command saves."""
    suite_tokenizer = tokenizer("wordpiece", run.parent / "tok-cache")  # the suite's own, with its [CLS] A [SEP]
    config = dataclasses.replace(TransformerConfig.from_yaml(MODELS / f"{family}-tiny-matched.yaml"),
                                 vocab_size=len(suite_tokenizer))
    module = (BertPretraining if family == "bert" else GptPretraining)(config, warmup_steps=1, max_steps=3)
    data = TinyDataModule(family, vocab_size=len(suite_tokenizer))
    data.tokenizer = suite_tokenizer
    module.attach(data)
    Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
            enable_model_summary=False, limit_val_batches=0).fit(module, data)
    (run / "checkpoints").mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({"val/loss": 3.5, "train/loss": 3.9}))
    (run / "config.yaml").write_text("data:\n  init_args:\n    source: data/wiki.train.raw\n")  # as RunRecord writes
    path = run / "checkpoints" / "last.ckpt"
    module.trainer.save_checkpoint(path)
    return path


@pytest.mark.parametrize("family", ["bert", "gpt"])
def test_exported_checkpoint_loads_with_auto_classes_and_gives_our_logits(family: str, tmp_path: Path) -> None:
    ckpt = _pretraining_checkpoint(family, tmp_path / "run")
    out = tmp_path / "exported"
    assert main([str(ckpt), str(out)]) == 0
    assert (out / "model.safetensors").is_file() and not list(tmp_path.glob(".exported.*"))  # renamed into place
    auto = AutoModelForMaskedLM if family == "bert" else AutoModelForCausalLM
    theirs = auto.from_pretrained(out).eval()
    assert type(theirs).__name__ == ("ModernBertForMaskedLM" if family == "bert" else "ModernBertDecoderForCausalLM")
    loaded = AutoTokenizer.from_pretrained(out)
    assert (loaded.mask_token, loaded.pad_token, loaded.cls_token, loaded.sep_token, loaded.eos_token) \
        == ("[MASK]", "[PAD]", "[CLS]", "[SEP]", "<|endoftext|>")
    assert loaded.model_max_length == 128
    ids = {name: getattr(theirs.config, f"{name}_token_id") for name in ("pad", "bos", "eos", "cls", "sep")}
    assert ids == {"pad": 0, "bos": 5, "eos": 5, "cls": 2, "sep": 3}  # the suite's ids, not ModernBERT's 50281...
    texts = ["the cat sat on a mat", "Alice met Bob"]
    encoded = loaded(texts, padding=True, return_tensors="pt")
    assert "token_type_ids" not in encoded  # ModernBERT has no segment table
    backbone = load_backbone(ckpt)
    plain = backbone.tokenizer(texts[0], add_special_tokens=False)["input_ids"]
    first = encoded["input_ids"][0].tolist()
    assert first == ([2, *plain, 3] if family == "bert" else plain)  # BERT: [CLS] a [SEP]; GPT adds none
    ours = backbone.model
    with torch.no_grad():
        out_ours = ours(encoded["input_ids"], encoded["attention_mask"])
        expected = out_ours.mlm_logits if family == "bert" else out_ours.logits
        got = theirs(**encoded).logits
    mask = encoded["attention_mask"].bool()
    torch.testing.assert_close(got[mask], expected[mask], atol=TOL, rtol=TOL)
    card = (out / "README.md").read_text()
    assert "val/loss | 3.5" in card and "step 2" in card and "tokens seen: 128" in card
    assert "**Data**: `data/wiki.train.raw`" in card
    assert f"pretrain fit --config {tmp_path / 'run' / 'config.yaml'}" in card
    assert ("masked language modelling (15% of tokens)" if family == "bert" else "next-token") in card


def test_bad_checkpoint_is_one_line_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(b"not a checkpoint")
    assert main([str(broken), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "broken.ckpt cannot be read" in err
    assert not (tmp_path / "out").exists()
    assert main([str(tmp_path / "missing.ckpt"), str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "taken").mkdir()
    assert main([str(broken), str(tmp_path / "taken")]) == 2  # never written over
    assert "taken already exists" in capsys.readouterr().err


# -- fine-tuned checkpoints -------------------------------------------------------------------------------
FINETUNE = {
    "classification": ("tasks.classification.module.ClassificationModule",
                       "tasks.classification.data.ClassificationDataModule", classification_files),
    "ner": ("tasks.ner.module.NerModule", "tasks.ner.data.NerDataModule", conll_files),
    "generation": ("tasks.generation.module.GenerationModule", "tasks.generation.data.GenerationDataModule",
                   generation_files),
}


def _finetuned(task: str, backbone: str, tmp_path: Path, *extra: str) -> tuple[Path, TaskModule]:
    """Two `finetune fit` steps; returns the saved checkpoint and our module holding its weights."""
    module_path, data_path, make_files = FINETUNE[task]
    files = make_files(tmp_path)
    results = tmp_path / "results.json"
    finetune_main([
        "fit", "--model", module_path, f"--model.checkpoint={backbone}", "--model.lr=1e-2", "--data", data_path,
        source_option(files), "--data.batch_size=4", "--data.max_length=24",
        f"--trainer.default_root_dir={tmp_path / 'run'}", "--trainer.max_steps=2", "--trainer.limit_val_batches=1",
        "--trainer.enable_progress_bar=false", "--trainer.logger=false", "--trainer.enable_model_summary=false",
        "--seed_everything=0", "--test_after_fit=true", f"--results_file={results}", *extra,
        *(["--data.max_target_length=8", "--model.max_new_tokens=4"] if task == "generation" else []),
    ])
    ckpt = Path(json.loads(results.read_text())["finetuned_checkpoint"])
    saved = torch.load(ckpt, weights_only=True)
    module_class, data_class = (getattr(importlib.import_module(p.rpartition(".")[0]), p.rpartition(".")[2])
                                for p in (module_path, data_path))
    options = module_class.option_defaults()
    module = module_class(**{k: v for k, v in saved["hyper_parameters"].items() if k in options})
    connect(module, data_class(source=str(files["train"]), max_length=24))  # builds the label head, as `finetune` does
    module.load_state_dict(saved["state_dict"])
    return ckpt, module.eval()


@pytest.mark.parametrize(("task", "family", "hf_class"), [
    ("classification", "bert", "BertForSequenceClassification"),
    ("ner", "bert", "BertForTokenClassification"),
    ("ner", "gpt", "GPT2ForTokenClassification"),
])
def test_finetuned_classic_heads_export_with_our_logits(task: str, family: str, hf_class: str, tmp_path: Path) -> None:
    ckpt, ours = _finetuned(task, hf_backbone(family, tmp_path / "backbone"), tmp_path)
    out = tmp_path / "exported"
    assert main([str(ckpt), str(out)]) == 0
    auto = AutoModelForSequenceClassification if task == "classification" else AutoModelForTokenClassification
    theirs = auto.from_pretrained(out).eval()
    assert type(theirs).__name__ == hf_class
    assert list(theirs.config.id2label.values()) == ours.label_names
    encoded = AutoTokenizer.from_pretrained(out)(["Alice met Bob in Paris", "the cat sat"], padding=True,
                                                 return_tensors="pt")
    assert ("token_type_ids" in encoded) == (family == "bert")
    batch = {**encoded, "token_type_ids": encoded.get("token_type_ids", torch.zeros_like(encoded["input_ids"]))}
    with torch.no_grad():
        expected, got = ours(batch), theirs(**encoded).logits
    if task == "ner":  # padded positions are no one's tags
        mask = encoded["attention_mask"].bool()
        expected, got = expected[mask], got[mask]
    torch.testing.assert_close(got, expected, atol=TOL, rtol=TOL)
    assert "fine-tuned for" in (out / "README.md").read_text()


@pytest.mark.parametrize(("task", "family", "extra", "message"), [
    ("classification", "bert", ["--model.pooling=mean"], r"model.pooling='mean'.*--model.init_args.pooling native"),
    ("classification", "gpt", [], "GPT2ForSequenceClassification's score layer has no bias"),
    ("ner", "modernbert", [], "ModernBertForTokenClassification applies a dense-GELU-norm head.*classic-layout"),
])
def test_heads_without_an_exact_class_are_refused_in_one_line(
    task: str, family: str, extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    backbone = (f"hf:{modernbert_backbone('bert', tmp_path / 'backbone')}" if family == "modernbert"
                else hf_backbone(family, tmp_path / "backbone"))
    ckpt, _ = _finetuned(task, backbone, tmp_path, *extra)
    capsys.readouterr()
    assert main([str(ckpt), str(tmp_path / "exported")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(message, err), err
    assert not (tmp_path / "exported").exists()


def test_finetuned_gpt_generation_exports_as_its_causal_lm(tmp_path: Path) -> None:
    ckpt, ours = _finetuned("generation", hf_backbone("gpt", tmp_path / "backbone"), tmp_path)
    out = tmp_path / "exported"
    assert main([str(ckpt), str(out)]) == 0
    theirs = AutoModelForCausalLM.from_pretrained(out).eval()
    assert type(theirs).__name__ == "GPT2LMHeadModel"
    ids = torch.randint(6, theirs.config.vocab_size, (2, 10))
    mask = torch.ones_like(ids)
    with torch.no_grad():
        torch.testing.assert_close(theirs(input_ids=ids, attention_mask=mask).logits, ours.model(ids, mask).logits,
                                   atol=TOL, rtol=TOL)
    pretrained = load_backbone(hf_backbone("gpt", tmp_path / "again")).model  # fine-tuning changed the weights
    assert not torch.allclose(pretrained(ids, mask).logits, ours.model(ids, mask).logits)


def test_a_finetuned_checkpoint_exports_from_any_directory_and_its_card_names_absolute_paths(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hf_backbone("bert", tmp_path / "backbone")
    monkeypatch.chdir(tmp_path)
    ckpt, _ = _finetuned("ner", "hf:backbone", tmp_path)  # the backbone given relative, as a user types it
    stored = torch.load(ckpt, weights_only=True, mmap=True)["hyper_parameters"]["checkpoint"]
    assert stored == f"hf:{tmp_path / 'backbone'}"  # resolved when stored
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    relative = Path("..") / ckpt.relative_to(tmp_path)
    assert main([str(relative), "exported"]) == 0
    card = (elsewhere / "exported" / "README.md").read_text()
    assert f"`hf:{tmp_path / 'backbone'}`" in card and f"--config {tmp_path / 'run' / 'config.yaml'}" in card
    assert f"pretrain.hf.export {ckpt} DIR" in card


def test_a_backbone_stored_relative_is_found_above_the_run_folder(tmp_path: Path) -> None:
    from pretrain.checkpoint import locate_stored_source

    (tmp_path / "runs/default/pretrain-bert/checkpoints").mkdir(parents=True)
    (tmp_path / "runs/default/pretrain-bert/checkpoints/probe.ckpt").write_bytes(b"")
    finetuned = tmp_path / "runs/default/ner-bert/checkpoints/best.ckpt"
    stored = "runs/default/pretrain-bert/checkpoints/probe.ckpt"  # relative to where the plan ran
    assert locate_stored_source(stored, finetuned) == str(tmp_path / stored)
    assert locate_stored_source(f"hf:{tmp_path}", finetuned) == f"hf:{tmp_path}"


def test_a_file_that_is_not_a_checkpoint_is_named_without_torchs_hints(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# not a checkpoint\n")
    assert main([str(readme), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"export: error: checkpoint {readme} cannot be read: it is not a PyTorch checkpoint (torch.save " \
                  "writes a zip archive, and this file is none: truncated, corrupted or another kind of file)"
