"""pretrain.checkpoint: a pretrain checkpoint alone gives the model, config and tokenizer; bad files fail clearly."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from lightning_fakes import TinyDataModule, tiny_config

from pretrain.checkpoint import load_backbone, random_weights
from pretrain.lightning import BertPretraining, GptPretraining, PretrainingModule
from pretrain.models import BertModel, GptModel
from pretrain.models.heads import Pooler
from tasks.classification.module import ClassificationModule

torch.set_num_threads(1)


def _train_and_save(family: str, path: Path, **options: bool) -> PretrainingModule:
    cls = BertPretraining if family == "bert" else GptPretraining
    module = cls(tiny_config(family), warmup_steps=1, max_steps=3, **options)
    trainer = Trainer(
        max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, limit_val_batches=0,
    )
    data = TinyDataModule(family)
    module.attach(data)  # the tokenizer the checkpoint carries
    trainer.fit(module, data)
    trainer.save_checkpoint(path)
    return module


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, PretrainingModule]]:
    root = tmp_path_factory.mktemp("ckpt")
    return {f: (root / f"{f}.ckpt", _train_and_save(f, root / f"{f}.ckpt")) for f in ("bert", "gpt")}


@pytest.mark.parametrize("family", ["bert", "gpt"])
def test_backbone_matches_trained_model(family: str, checkpoints: dict) -> None:
    path, module = checkpoints[family]
    backbone = load_backbone(path, expected_family=family)
    assert backbone.family == family
    assert isinstance(backbone.model, BertModel if family == "bert" else GptModel)
    assert not backbone.model.training
    assert backbone.config == module.config
    assert len(backbone.tokenizer) == backbone.config.vocab_size
    assert backbone.tokenizer.pad_token_id == 0 and backbone.tokenizer.mask_token_id == 4
    ids = torch.tensor([[2, 7, 8, 9, 3]])
    module.model.eval()
    with torch.no_grad():
        expected = module.model(ids).hidden_states
        got = backbone.model(ids).hidden_states
    torch.testing.assert_close(got, expected)


def test_bert_pretrained_without_nsp_saves_and_loads_no_nsp_head(tmp_path: Path) -> None:
    module = _train_and_save("bert", tmp_path / "mlm.ckpt", nsp=False)
    assert module.model.pooler is None and module.model.nsp_head is None  # nothing DDP would find unused
    backbone = load_backbone(tmp_path / "mlm.ckpt", expected_family="bert")
    assert isinstance(backbone.model, BertModel) and not backbone.model.nsp
    assert not backbone.model.training
    ids = torch.tensor([[2, 7, 8, 9, 3]])
    module.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(backbone.model(ids).hidden_states, module.model(ids).hidden_states)
    fresh = random_weights(backbone).model
    assert isinstance(fresh, BertModel) and fresh.nsp_head is None  # the random-init control has the same heads
    native = ClassificationModule(str(tmp_path / "mlm.ckpt"), pooling="native")
    assert isinstance(native.pooler, Pooler)  # a fresh pooler over [CLS], as RoBERTa's classification head


def test_wrong_family_names_file(checkpoints: dict) -> None:
    path, _ = checkpoints["bert"]
    with pytest.raises(ValueError, match=rf"{path}.*'bert'.*expected 'gpt'"):
        load_backbone(path, expected_family="gpt")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.ckpt"):
        load_backbone(tmp_path / "nope.ckpt")


def test_truncated_checkpoint(checkpoints: dict, tmp_path: Path) -> None:
    path, _ = checkpoints["gpt"]
    broken = tmp_path / "truncated.ckpt"
    broken.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated.ckpt.*truncated, corrupted"):
        load_backbone(broken)


def test_non_suite_checkpoint(tmp_path: Path) -> None:
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "hyper_parameters": {"lr": 1.0}}, other)
    with pytest.raises(ValueError, match="other.ckpt was not written by this suite"):
        load_backbone(other)


def test_tokenizer_vocab_mismatch(checkpoints: dict, tmp_path: Path) -> None:
    path, _ = checkpoints["gpt"]
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["hyper_parameters"]["config"]["vocab_size"] = 80
    tampered = tmp_path / "tampered.ckpt"
    torch.save(checkpoint, tampered)
    with pytest.raises(ValueError, match="tampered.ckpt: tokenizer has 64 tokens.*vocab_size=80"):
        load_backbone(tampered)


def test_unattached_module_saves_no_tokenizer_and_no_bits_per_byte(tmp_path: Path) -> None:
    """The module reads its data only through `attach`, never through the trainer."""
    module = GptPretraining(tiny_config("gpt"), warmup_steps=1, max_steps=3)
    trainer = Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, limit_val_batches=1)
    trainer.fit(module, TinyDataModule("gpt"))
    trainer.validate(module, TinyDataModule("gpt"), verbose=False)
    assert "val/loss" in trainer.callback_metrics and "val/bits_per_byte" not in trainer.callback_metrics
    trainer.save_checkpoint(tmp_path / "bare.ckpt")
    with pytest.raises(ValueError, match="bare.ckpt has no tokenizer"):
        load_backbone(tmp_path / "bare.ckpt")
    module.attach(TinyDataModule("gpt"))  # bytes_per_token 3.0
    trainer.validate(module, TinyDataModule("gpt"), verbose=False)
    expected = trainer.callback_metrics["val/loss"] / math.log(2.0) / 3.0
    torch.testing.assert_close(trainer.callback_metrics["val/bits_per_byte"], expected)


def test_bert_nsp_is_its_saved_argument() -> None:
    assert not BertPretraining(tiny_config("bert"), nsp=False).nsp
    assert "nsp_loss" in BertPretraining(tiny_config("bert")).val_metrics


@pytest.mark.parametrize("family", ["bert", "gpt"])
def test_hf_modernbert_folder_is_a_backbone(family: str, tmp_path: Path) -> None:
    """`hf:DIR` takes Ettin's layout (model_type modernbert / modernbert-decoder), weights converted exactly."""
    from tasks_fixtures import modernbert_backbone
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

    folder = modernbert_backbone(family, tmp_path / family)
    backbone = load_backbone(f"hf:{folder}", family)
    assert backbone.family == family and backbone.config.activation == "geglu"
    theirs = (AutoModelForMaskedLM if family == "bert" else AutoModelForCausalLM).from_pretrained(folder).eval()
    ids = torch.randint(6, backbone.config.vocab_size, (2, 12))
    mask = torch.ones_like(ids)
    with torch.no_grad():
        out = backbone.model(ids, mask)
        ours = out.mlm_logits if family == "bert" else out.logits
        torch.testing.assert_close(ours, theirs(input_ids=ids, attention_mask=mask).logits, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="holds a .* model, but family="):
        load_backbone(f"hf:{folder}", "gpt" if family == "bert" else "bert")
