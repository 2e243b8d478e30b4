"""FlexAttention (the CUDA path for masked attention) equals SDPA with the boolean mask (the reference path), in
outputs and gradients, for every mask the stacks build: sliding windows (encoder and decoder), padding, documents.
Run on the CPU (torch's eager flex_attention); on CUDA the same block masks go to the compiled kernel."""

from __future__ import annotations

import pytest
import torch
import torch.nn.attention.flex_attention as flex_attention_module

import pretrain.models.stack as stack_module
from pretrain.blocks.attention import block_mask
from pretrain.blocks.config import TransformerConfig
from pretrain.models import BertModel, GptModel

# ModernBERT's layout at tiny size, with a window (16) much shorter than the input (40): layer 0 global, 1-2 local.
CONFIG = TransformerConfig(
    vocab_size=100, max_positions=64, d_model=32, n_layers=3, n_heads=4, d_ff=48, activation="geglu",
    norm_placement="pre", position="rope", local_window=16, global_every=3, type_vocab_size=0,
    final_norm=True, bias=False, dropout=0.0, attention_dropout=0.0,
)
T = 40


def _inputs(case: str) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(5, 100, (3, T), generator=generator)
    inputs = {"input_ids": input_ids}
    if case == "padding":
        mask = torch.ones(3, T, dtype=torch.long)
        mask[0, 25:], mask[2, 33:] = 0, 0
        inputs["attention_mask"] = mask
    if case == "documents":
        inputs["document_ids"] = torch.cat([torch.zeros(3, 15), torch.ones(3, 17), 2 * torch.ones(3, 8)], 1).long()
    return inputs


def _outputs_and_gradients(model: torch.nn.Module, stack: torch.nn.Module, flex: bool,
                           inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    stack.flex_attention = flex
    model.zero_grad()
    hidden = stack(**inputs).hidden_states
    weights = torch.linspace(-1.0, 1.0, hidden.numel()).view_as(hidden)  # a loss reading every output
    (hidden * weights).sum().backward()
    return hidden.detach(), {name: p.grad.clone() for name, p in stack.named_parameters() if p.grad is not None}


@pytest.mark.parametrize(("family", "case"), [("bert", "window"), ("bert", "padding"), ("gpt", "window"),
                                              ("gpt", "padding"), ("gpt", "documents")])
def test_flex_attention_equals_sdpa_in_outputs_and_gradients(family: str, case: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # torch refuses FlexAttention's backward on CPU at its entry check (its CPU kernel is inference-only); the eager
    # reference under it, which the CUDA kernel is tested against in torch, differentiates fine.
    monkeypatch.setattr(flex_attention_module, "_validate_device", lambda query, key, value: None)
    torch.manual_seed(0)
    model = (BertModel(CONFIG) if family == "bert" else GptModel(CONFIG)).train()
    stack = model.encoder if family == "bert" else model.decoder
    inputs = _inputs(case)
    if case == "padding" and family == "gpt":
        inputs["attention_mask"] = inputs["attention_mask"].flip(1)  # left padding: a mask SDPA's causal path lacks
    built: list[torch.Tensor] = []
    monkeypatch.setattr(stack_module, "block_mask", lambda mask: built.append(mask) or block_mask(mask))
    reference, reference_grads = _outputs_and_gradients(model, stack, False, inputs)
    assert not built
    flex, flex_grads = _outputs_and_gradients(model, stack, True, inputs)
    assert built and all(mask.dtype == torch.bool for mask in built)  # the masked layers went through FlexAttention
    torch.testing.assert_close(flex, reference, atol=1e-5, rtol=1e-4)
    assert flex_grads.keys() == reference_grads.keys() and reference_grads
    for name, grad in reference_grads.items():
        torch.testing.assert_close(flex_grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)


def test_flex_attention_is_used_on_cuda_only_unless_forced_and_never_with_attention_dropout() -> None:
    stack = GptModel(CONFIG).decoder
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert not stack._flex(cpu, None, False) and stack._flex(cuda, None, False)
    assert not stack._flex(cuda, None, True)  # attention weights: the spelled-out reference
    dropout = GptModel(TransformerConfig(**{**CONFIG.to_dict(), "attention_dropout": 0.1})).decoder.train()
    assert not dropout._flex(cuda, None, False) and dropout.eval()._flex(cuda, None, False)
