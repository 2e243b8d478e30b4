"""Generation wiring at the task level: greedy decoding through the module equals a plain argmax
loop without cache (so cached = uncached, and left padding of GPT prompts is handled), and the
BERT2BERT warm start copies every BERT weight but the new cross-attention."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
import torch
from tasks_fixtures import SENTENCES, hf_backbone

from pretrain.models import BertModel, TransformerConfig
from tasks.files import Row
from tasks.generation.data import GenerationDataModule
from tasks.generation.module import GenerationModule
from tasks.generation.warm_start import new_parameter_names, warm_start_encoder_decoder


def _batch(module: GenerationModule) -> dict:
    dm = GenerationDataModule(max_length=24, max_target_length=8)
    dm.attach(module.tokenizer, module.family, module.backbone_config.max_positions)
    dm.truncated["test"] = 0
    # Sources of different lengths, so GPT prompts are left-padded in the batch.
    rows = [Row({"source": s, "target": "x"}, f"row {i}") for i,
            s in enumerate([SENTENCES[0], "the cat", SENTENCES[3]])]
    return dm.collate(dm.encode(rows, "test"))


def _argmax_loop(module: GenerationModule, batch: dict, row: int, steps: int) -> list[int]:
    """One example, no padding, no cache: re-run the whole sequence every step."""
    special = module.special
    prompt = batch["prompt_ids"][row][batch["prompt_mask"][row].bool()][None]  # (1, S)
    out: list[int] = []
    for _ in range(steps):
        if module.family == "gpt":
            logits = module.model(torch.cat((prompt, torch.tensor([out], dtype=torch.long)), dim=1)).logits
        else:
            decoder = torch.tensor([[special.cls, *out]])
            logits = module.model(prompt, None, decoder).logits
        token = int(logits[0, -1].argmax())
        if token == special.eos:
            break
        out.append(token)
    return out


MODES = [("bert", "masked"), ("bert", "bert2bert"), ("gpt", "masked")]  # the mode only concerns BERT


@pytest.mark.parametrize(("family", "mode"), MODES)
def test_greedy_generation_equals_uncached_argmax_loop(family: str, mode: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    module = GenerationModule(hf_backbone(family, tmp_path / "model"), max_new_tokens=6, no_repeat_ngram_size=0,
                              bert_generation=mode).eval()
    batch = _batch(module)
    generated = module.generate_ids(batch)
    assert batch["prompt_mask"].sum(dim=1).unique().numel() >= 2  # prompts of different lengths: padding is exercised
    assert any(generated), "a random model that stops at once would make this comparison vacuous"
    for row, ids in enumerate(generated):
        assert ids == _argmax_loop(module, batch, row, 6)


def test_beam_search_and_sampling_options_reach_the_decoder(tmp_path: Path) -> None:
    module = GenerationModule(hf_backbone("gpt", tmp_path / "model"), max_new_tokens=4, num_beams=3).eval()
    config = module.generation_config(prompt_length=10)
    assert (config.num_beams, config.max_new_tokens, config.eos_token_id) == (3, 4, module.special.eos)
    assert len(module.generate(_batch(module))) == 3
    # Decoding never runs past GPT's positions: 64 - 62 leaves room for 2 new tokens.
    assert module.generation_config(prompt_length=62).max_new_tokens == 2
    with pytest.raises(ValueError, match="num_beams > 1 is beam search"):
        GenerationModule(hf_backbone("gpt", tmp_path / "model2"), num_beams=2, do_sample=True)


def test_warm_start_copies_bert_and_leaves_only_cross_attention_new() -> None:
    torch.manual_seed(0)
    bert = BertModel(TransformerConfig(type_vocab_size=2, norm_placement="post", embedding_norm=True))
    model = warm_start_encoder_decoder(bert)
    source = bert.encoder.state_dict()
    for half in (model.encoder, model.decoder):
        state = half.state_dict()
        for key, value in source.items():
            assert torch.equal(state[key], value), key
    new = new_parameter_names(model)
    assert new and all(".cross_attn." in n or ".cross_norm." in n for n in new)
    assert len(new) == sum(1 for n, _ in model.named_parameters() if "cross" in n)
    head = model.lm_head.state_dict()
    for key, value in bert.mlm_head.state_dict().items():
        assert torch.equal(head[key], value), key


def _alone(batch: dict, row: int) -> dict:
    """Row `row` of a collated batch as a batch of one, without any padding."""
    keep = batch["prompt_mask"][row].bool()
    return {"prompt_ids": batch["prompt_ids"][row][keep][None], "prompt_mask": batch["prompt_mask"][row][keep][None]}


@pytest.mark.parametrize(("family", "mode"), MODES)
def test_batched_generation_equals_each_source_alone(family: str, mode: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    module = GenerationModule(hf_backbone(family, tmp_path / "model"), max_new_tokens=6, bert_generation=mode).eval()
    batch = _batch(module)
    lengths = batch["prompt_mask"].sum(dim=1)
    assert lengths.unique().numel() >= 2  # short and long sources share the batch: padding is exercised
    generated = module.generate_ids(batch)
    assert any(generated), "a random model that stops at once would make this comparison vacuous"
    for row in range(len(generated)):
        alone = _alone(batch, row)
        assert generated[row] == module.generate_ids(alone)[0], row
        if mode == "bert2bert" and family == "bert":
            # The encoder sees each source right-padded: [CLS] at position 0, as in pretraining, so the
            # real positions' states do not depend on the other sources in the batch.
            with torch.no_grad():
                batched = module.model.encode(batch["prompt_ids"], batch["prompt_mask"])[row, :lengths[row]]
                single = module.model.encode(alone["prompt_ids"], alone["prompt_mask"])[0]
            torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-5)


def test_gpt_training_loss_is_the_fused_lm_loss_with_the_plain_value_and_gradient(tmp_path: Path) -> None:
    torch.manual_seed(0)
    module = GenerationModule(hf_backbone("gpt", tmp_path / "model")).double().eval()
    dm = GenerationDataModule(max_length=24, max_target_length=8)
    dm.attach(module.tokenizer, module.family, module.backbone_config.max_positions)
    dm.truncated["train"] = 0
    rows = [Row({"source": s, "target": t}, f"row {i}")
            for i, (s, t) in enumerate([(SENTENCES[0], "the cat sat"), ("the cat", SENTENCES[5])])]
    batch = dm.collate(dm.encode(rows, "train"))
    assert batch["attention_mask"].sum(dim=1).unique().numel() == 2  # right padding is exercised
    params = [p for p in module.parameters() if p.requires_grad]
    logits, labels = module(batch)  # the plain computation: full logits, shifted labels
    plain = torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
    plain_grads = torch.autograd.grad(plain, params)
    with mock.patch.object(module.model, "lm_loss", wraps=module.model.lm_loss) as lm_loss:
        fused = module.training_loss(batch)
    assert lm_loss.called, "GPT's generation loss must go through GptModel.lm_loss"
    torch.testing.assert_close(fused, plain)
    for got, want in zip(torch.autograd.grad(fused, params), plain_grads):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("mode", ["masked", "bert2bert"])
def test_left_padded_bert_sources_are_refused(mode: str, tmp_path: Path) -> None:
    module = GenerationModule(hf_backbone("bert", tmp_path / "model"), max_new_tokens=2, bert_generation=mode).eval()
    batch = _batch(module)
    lengths = batch["prompt_mask"].sum(dim=1)
    assert bool(batch["prompt_mask"][:, 0].all())  # the collated BERT sources are right-padded
    short = int(lengths.argmin())
    batch["prompt_mask"][short] = batch["prompt_mask"][short].flip(0)  # as if left-padded
    with pytest.raises(ValueError, match="BERT sources must be right-padded"):
        module.generate_ids(batch)


def test_validation_decodes_only_a_fixed_prefix_of_examples_but_scores_the_loss_on_all(tmp_path: Path) -> None:
    module = GenerationModule(hf_backbone("gpt", tmp_path / "model"), max_new_tokens=3, generate_during_validation=True,
                              validation_decode_limit=4).eval()
    dm = GenerationDataModule(max_length=24, max_target_length=8)
    dm.attach(module.tokenizer, module.family, module.backbone_config.max_positions)
    module.configure_task(dm)
    batch = _batch(module)  # 3 examples per batch
    module.on_validation_epoch_start()
    with mock.patch.object(module, "log"), mock.patch.object(module, "generate", wraps=module.generate) as generate:
        for _ in range(3):
            module.validation_step(batch, 0)
    assert [len(call.args[0]["references"]) for call in generate.call_args_list] == [3, 1]  # 4 examples, no more
    assert len(module.val_rouge.rougeL_fmeasure) == 4
    assert module.val_ppl.update_count == 3 and module._val_decoded == 4  # the loss saw every batch
