"""The objectives beyond BERT's and GPT's: masked copies of causal blocks at 30%, masked next-token targets one
position before the masked token, clm-mlm's switch (and its mask) at the right step with one optimizer state,
and gpt-bert's evenly spread causal steps."""

from __future__ import annotations

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from lightning_fakes import TinyMaskedBlocks, tiny_config, tiny_tokenizer
from torch import Tensor

from pretrain.data.masking import MaskedBlockCollator
from pretrain.lightning.mixed import ClmMlmPretraining, GptBertPretraining, MixedObjectivePretraining
from pretrain.models.gpt import GptModel
from pretrain.models.loss import IGNORE_INDEX

VOCAB = 64


def _blocks(rows: int, length: int, seed: int = 0) -> list[dict[str, object]]:
    g = torch.Generator().manual_seed(seed)
    return [{"input_ids": torch.randint(6, VOCAB, (length,), generator=g)} for _ in range(rows)]


def test_masked_copy_masks_30_percent_and_keeps_the_causal_batch() -> None:
    collator = MaskedBlockCollator(tokenizer=tiny_tokenizer(VOCAB), mlm_probability=0.3)
    examples = _blocks(64, 128)
    torch.manual_seed(0)
    batch = collator(examples)
    originals = torch.stack([e["input_ids"] for e in examples])
    assert torch.equal(batch["input_ids"], originals) and torch.equal(batch["labels"], originals)  # causal part
    masked = batch["masked_labels"] != IGNORE_INDEX
    assert abs(masked.float().mean().item() - 0.3) < 0.02  # 8192 tokens: 3 standard errors ~ 0.015
    assert torch.equal(batch["masked_labels"][masked], originals[masked])
    replaced = batch["masked_input_ids"][masked] == 4  # [MASK]: 80% of the chosen (BERT's 80/10/10)
    assert abs(replaced.float().mean().item() - 0.8) < 0.04
    assert torch.equal(batch["masked_input_ids"][~masked], originals[~masked])


def test_validation_masks_are_fixed_at_their_own_rate() -> None:
    collator = MaskedBlockCollator(tokenizer=tiny_tokenizer(VOCAB), mlm_probability=0.15, fixed_seed=0)
    examples = _blocks(32, 128)
    first, second = collator(examples), collator(list(reversed(examples)))
    assert torch.equal(first["masked_labels"], second["masked_labels"].flip(0))  # by content, not by position
    rate = (first["masked_labels"] != IGNORE_INDEX).float().mean().item()
    assert abs(rate - 0.15) < 0.02


def _batch() -> dict[str, Tensor]:
    torch.manual_seed(1)
    return MaskedBlockCollator(tokenizer=tiny_tokenizer(VOCAB), mlm_probability=0.3)(_blocks(4, 16))


def test_masked_next_token_targets_sit_one_position_before_the_masked_token() -> None:
    batch = _batch()
    targets = GptBertPretraining(tiny_config("gpt", VOCAB))._masked_targets(batch)  # (B, T - 1)
    assert torch.equal(targets, batch["masked_labels"][:, 1:])
    own = ClmMlmPretraining(tiny_config("gpt", VOCAB))._masked_targets(batch)  # masked LM: the same position
    assert torch.equal(own, batch["masked_labels"])


@pytest.mark.parametrize("shift", [True, False])
def test_masked_loss_is_the_bidirectional_cross_entropy_at_the_masked_targets(shift: bool) -> None:
    batch = _batch()
    model = GptModel(tiny_config("gpt", VOCAB, dropout=0.0)).eval()
    model.decoder.causal = False
    loss = model.lm_loss(batch["masked_input_ids"], batch["masked_labels"], shift=shift)
    logits = model(batch["masked_input_ids"]).logits
    labels = batch["masked_labels"]
    if shift:  # position t predicts the token masked at t + 1
        logits, labels = logits[:, :-1], labels[:, 1:]
    expected = F.cross_entropy(logits.reshape(-1, VOCAB), labels.reshape(-1), ignore_index=IGNORE_INDEX)
    torch.testing.assert_close(loss, expected, rtol=1e-4, atol=1e-5)
    model.decoder.causal = True  # the causal loss differs: the mask is what the modes change
    assert not torch.allclose(model.lm_loss(batch["masked_input_ids"], batch["masked_labels"], shift=shift), loss)


def _fit(module: MixedObjectivePretraining, steps: int) -> list[bool]:
    """Train `steps` steps; the decoder's causal flag at each training forward."""
    seen: list[bool] = []
    module.model.decoder.register_forward_pre_hook(
        lambda stack, args: seen.append(stack.causal) if module.training else None)
    module.attach(data := TinyMaskedBlocks())
    trainer = L.Trainer(max_steps=steps, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, val_check_interval=steps,
                        num_sanity_val_steps=0)
    trainer.fit(module, datamodule=data)
    return seen


def test_clm_mlm_switches_to_bidirectional_masked_lm_at_its_share_with_one_optimizer_state() -> None:
    module = ClmMlmPretraining(tiny_config("gpt", VOCAB), causal_share=0.5, warmup_steps=1, max_steps=8)
    assert [module.causal_at(s) for s in range(8)] == [True] * 4 + [False] * 4
    causal = _fit(module, 8)
    assert causal == [True] * 4 + [False] * 4  # the mask changes with the objective, at step 4
    assert module.model.decoder.causal  # causal again outside the masked steps (checkpoints hold a GPT)
    optimizer = module.trainer.optimizers[0]
    # One AdamW state through the switch: every parameter's step count is the run's, not restarted at 4.
    assert {int(state["step"]) for state in optimizer.state.values()} == {8}
    assert module.lr_schedulers().last_epoch == 8  # one schedule over all 8 steps, no second warmup
    metrics = module.trainer.callback_metrics
    assert {"val/loss", "val/mlm_loss", "val/mlm_acc", "val/baseline_mlm_acc"} <= set(metrics)
    causal_targets = 4 * 4 * 15  # 4 causal steps x 4 rows x 15 next tokens; then ~30% of 4 x 16 positions a step
    assert causal_targets < module.supervised_tokens < causal_targets + 4 * 4 * 16 * 0.6


def test_gpt_bert_spreads_its_causal_steps_evenly() -> None:
    module = GptBertPretraining(tiny_config("gpt", VOCAB), causal_share=1 / 16)
    causal = [s for s in range(160) if module.causal_at(s)]
    assert causal == list(range(15, 160, 16))  # 1:15 causal to masked
    quarter = GptBertPretraining(tiny_config("gpt", VOCAB), causal_share=0.25)
    assert [quarter.causal_at(s) for s in range(8)] == [False, False, False, True] * 2
    assert _fit(GptBertPretraining(tiny_config("gpt", VOCAB), causal_share=0.25, warmup_steps=1), 8) == \
        [False, False, False, True] * 2


def test_mixed_objective_refuses_batches_without_masked_copies() -> None:
    module = GptBertPretraining(tiny_config("gpt", VOCAB))
    batch = {k: v for k, v in _batch().items() if not k.startswith("masked_")}
    with pytest.raises(ValueError, match="data.mlm_probability"):
        module._step(batch, "val")
    with pytest.raises(ValueError, match="causal_share=1.5"):
        ClmMlmPretraining(tiny_config("gpt", VOCAB), causal_share=1.5)
