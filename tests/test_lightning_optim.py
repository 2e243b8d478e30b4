"""AdamW's fused kernel and the gradient clipping that goes with it, in the modules' own Trainer settings."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.plugins.precision import MixedPrecision
from lightning_fakes import TinyDataModule, tiny_config

from pretrain.lightning import GptPretraining
from pretrain.lightning.optim import clip_gradients


def _trainer(precision: str, clip: float | None = 1.0, steps: int = 3) -> Trainer:
    return Trainer(max_steps=steps, accelerator="cpu", precision=precision, gradient_clip_val=clip, logger=False,
                   enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                   limit_val_batches=0)


@pytest.mark.parametrize("precision", ["bf16-mixed", "32-true"])
def test_pretraining_steps_with_fused_adamw_and_clipping(precision: str) -> None:
    # Lightning's mixed-precision plugin refuses to clip for a fused optimizer: without the modules' own clipping
    # hook this run would stop at its first step (the GPU recipe: bf16-mixed, fused AdamW, gradient_clip_val 1).
    torch.manual_seed(0)
    module = GptPretraining(tiny_config("gpt"), warmup_steps=1, max_steps=3)
    trainer = _trainer(precision)
    trainer.fit(module, datamodule=TinyDataModule("gpt"))
    assert trainer.global_step == 3
    assert trainer.optimizers[0].defaults["fused"] is True


def test_under_a_grad_scaler_adamw_is_not_fused() -> None:
    # fp16 with a GradScaler (a GPU recipe; built here on the CPU's scaler): the fused step would unscale itself.
    module = GptPretraining(tiny_config("gpt"), warmup_steps=1, max_steps=3)
    scaled = MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu"))
    module.trainer = Trainer(accelerator="cpu", plugins=[scaled], logger=False, enable_checkpointing=False)
    assert not module.configure_optimizers()["optimizer"].defaults["fused"]


@pytest.mark.parametrize("algorithm", ["norm", "value"])
def test_clipping_is_torchs_over_the_optimizers_parameters(algorithm: str) -> None:
    torch.manual_seed(0)
    module = GptPretraining(tiny_config("gpt"), warmup_steps=1, max_steps=3)
    module.trainer = _trainer("bf16-mixed")
    optimizer = module.configure_optimizers()["optimizer"]
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for p in params:
        p.grad = torch.randn_like(p) * 10
    expected = [p.grad.clone() for p in params]
    if algorithm == "norm":
        torch.nn.utils.clip_grad_norm_([_holder(g) for g in expected], 0.5)
    else:
        torch.nn.utils.clip_grad_value_([_holder(g) for g in expected], 0.5)
    clip_gradients(module, optimizer, 0.5, algorithm)
    for p, want in zip(params, expected, strict=True):
        torch.testing.assert_close(p.grad, want, rtol=0, atol=0)
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in params]))
    if algorithm == "norm":
        assert float(total) == pytest.approx(0.5, rel=1e-4)
    else:
        assert max(float(p.grad.abs().max()) for p in params) <= 0.5


def _holder(grad: torch.Tensor) -> torch.nn.Parameter:
    """A parameter whose .grad is `grad` itself, so torch's clipping scales it in place."""
    holder = torch.nn.Parameter(torch.empty_like(grad))
    holder.grad = grad
    return holder
