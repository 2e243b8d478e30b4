"""`python -m pretrain.hf.export`: a suite checkpoint becomes a Hugging Face folder that transformers' Auto
classes load, with our logits (1e-5); fine-tuned heads export only where a class computes them exactly."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

from lightning_fakes import TinyDataModule
from tasks_fixtures import tokenizer
from pretrain.blocks.config import TransformerConfig
from pretrain.checkpoint import load_backbone
from pretrain.hf.export import main
from pretrain.lightning import BertPretraining, GptPretraining

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
    assert ("masked language modelling" if family == "bert" else "next-token") in card


def test_bad_checkpoint_is_one_line_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(b"not a checkpoint")
    assert main([str(broken), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "broken.ckpt cannot be read" in err
    assert not (tmp_path / "out").exists()
    assert main([str(tmp_path / "missing.ckpt"), str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
