"""The CUDA-only paths, which the rest of the suite runs through CPU stand-ins: bf16 autocast, flash SDPA,
torch.compile, fused AdamW and Hugging Face parity on the GPU. Marked `cuda` (skipped without CUDA, conftest.py);
`make gpu-check` runs them with `pytest -m cuda`. Not yet run on a GPU where they were written."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import Trainer
from lightning_fakes import tiny_config
from torch.nn.attention import SDPBackend, sdpa_kernel

from pretrain.bench.training import ours_runner
from pretrain.blocks.config import TransformerConfig
from pretrain.family import family_record
from pretrain.hf import to_hf
from pretrain.lightning import GptPretraining

pytestmark = pytest.mark.cuda
CUDA = torch.device("cuda")
FAMILIES = ("bert", "gpt")


def _config(family: str) -> TransformerConfig:
    """Small, but with a head dimension the flash kernel takes (64) and no dropout, so runs compare exactly."""
    base = tiny_config(family, vocab_size=512, dropout=0.0).to_dict()
    return TransformerConfig(**{**base, "d_model": 256, "n_heads": 4, "d_ff": 1024, "max_positions": 128})


@pytest.mark.parametrize("family", FAMILIES)
def test_bf16_autocast_trains_and_stays_near_fp32(family: str) -> None:
    losses = {}
    for amp in (False, True):
        runner = ours_runner(family, _config(family), 8, 128, CUDA, amp)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            loss = runner.loss_fn(runner.batch)
        loss.backward()
        assert all(p.grad is None or torch.isfinite(p.grad).all() for p in runner.model.parameters())
        losses[amp] = loss.item()
    assert losses[True] == pytest.approx(losses[False], rel=2e-2)


def test_flash_sdpa_runs_the_causal_path_and_matches_the_math_kernel() -> None:
    runner = ours_runner("gpt", _config("gpt"), 8, 128, CUDA, amp=True)
    outputs = {}
    for backend in (SDPBackend.FLASH_ATTENTION, SDPBackend.MATH):
        runner.model.zero_grad(set_to_none=True)
        with sdpa_kernel([backend]), torch.autocast("cuda", dtype=torch.bfloat16):  # raises if flash cannot run
            loss = runner.loss_fn(runner.batch)
        loss.backward()
        grads = torch.cat([p.grad.flatten().float() for p in runner.model.parameters() if p.grad is not None])
        outputs[backend] = (float(loss), grads)
    (flash_loss, flash_grad), (math_loss, math_grad) = outputs.values()
    assert flash_loss == pytest.approx(math_loss, rel=1e-2)
    assert F.cosine_similarity(flash_grad, math_grad, dim=0) > 0.99


@pytest.mark.parametrize("family", FAMILIES)
def test_torch_compile_gives_the_eager_loss(family: str) -> None:
    eager = ours_runner(family, _config(family), 4, 128, CUDA, amp=False)
    compiled = ours_runner(family, _config(family), 4, 128, CUDA, amp=False, compile_model=True)  # same seed
    assert float(compiled.loss_fn(compiled.batch)) == pytest.approx(float(eager.loss_fn(eager.batch)), rel=1e-4)


def test_pretraining_uses_fused_adamw_on_cuda_and_it_steps_like_the_foreach_kernel() -> None:
    module = GptPretraining(_config("gpt"), warmup_steps=2, max_steps=10).to(CUDA)
    module.trainer = Trainer(accelerator="cuda", devices=1, precision="bf16-mixed", logger=False)
    optimizer = module.configure_optimizers()["optimizer"]
    assert optimizer.defaults["fused"] is True
    params = [torch.randn(64, 64, device=CUDA, requires_grad=True) for _ in range(2)]
    twins = [p.detach().clone().requires_grad_(True) for p in params]
    for group, fused in ((params, True), (twins, False)):
        opt = torch.optim.AdamW(group, lr=1e-3, fused=fused, foreach=None if fused else True)
        for p in group:
            p.grad = torch.ones_like(p)
        opt.step()
    for p, q in zip(params, twins, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("family", FAMILIES)
def test_hugging_face_parity_on_cuda(family: str) -> None:
    torch.manual_seed(0)
    ours = family_record(family).build(_config(family)).to(CUDA).eval()
    theirs = to_hf(ours).to(CUDA).eval()
    input_ids = torch.randint(5, 512, (2, 64), device=CUDA)
    with torch.no_grad():
        mine = ours(input_ids).logits if family == "gpt" else ours(input_ids).mlm_logits
        reference = theirs(input_ids).logits if family == "gpt" else theirs(input_ids).prediction_logits
    torch.testing.assert_close(mine, reference, rtol=1e-4, atol=1e-4)
