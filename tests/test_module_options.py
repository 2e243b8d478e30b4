"""The modules document the shared options once (in the base); the CLI still lists every option with its help."""

from __future__ import annotations

from unittest import mock

import pytest
import torch
from jsonargparse import ArgumentParser
from lightning_fakes import tiny_config

from pretrain.blocks.block import TransformerBlock
from pretrain.lightning import BertPretraining, GptPretraining
from tasks.classification.module import ClassificationModule
from tasks.generation.module import GenerationModule
from tasks.ner.module import NerModule

TASK_OPTIONS = ("checkpoint", "family", "lr", "weight_decay", "warmup_ratio", "random_init")
PRETRAINING_OPTIONS = ("lr", "weight_decay", "betas", "eps", "warmup_steps", "max_steps", "schedule", "min_lr_ratio",
                       "compile", "activation_checkpointing", "peak_flops_per_device")


def _options(module_class: type) -> dict[str, str]:
    parser = ArgumentParser()
    parser.add_class_arguments(module_class, "model")
    return {action.dest.removeprefix("model."): action.help or "" for action in parser._actions
            if action.dest.startswith("model.")}


@pytest.mark.parametrize(("module_class", "own"), [
    (ClassificationModule, ("classifier_dropout", "pooling")), (NerModule, ("classifier_dropout",)),
    (GenerationModule, ("max_new_tokens", "num_beams", "bert_generation", "validation_decode_limit")),
])
def test_task_modules_expose_the_shared_options_with_their_help(module_class: type, own: tuple[str, ...]) -> None:
    options = _options(module_class)
    for name in (*TASK_OPTIONS, *own):
        assert options.get(name), f"{module_class.__name__}: {name} missing or undocumented"


@pytest.mark.parametrize(("module_class", "own"), [(BertPretraining, ("nsp",)), (GptPretraining, ())])
def test_pretraining_modules_expose_the_shared_options_with_their_help(module_class: type,
                                                                      own: tuple[str, ...]) -> None:
    options = _options(module_class)
    for name in (*PRETRAINING_OPTIONS, *own):
        assert options.get(name), f"{module_class.__name__}: {name} missing or undocumented"


def test_option_defaults_hold_the_shared_and_the_task_options() -> None:
    """What the --ckpt_path check and checkpoint reloading read: every option, the forwarded ones included."""
    defaults = GenerationModule.option_defaults()
    assert defaults["random_init"] is False and defaults["family"] is None and defaults["lr"] == 5e-5
    assert defaults["bert_generation"] == "masked" and "options" not in defaults and "args" not in defaults
    assert NerModule.option_defaults()["classifier_dropout"] == 0.1 and "pooling" not in NerModule.option_defaults()


@pytest.mark.parametrize("module_class", [BertPretraining, GptPretraining])
def test_compile_covers_every_block_whatever_path_the_loss_takes(module_class: type) -> None:
    """GPT trains through `lm_loss`, not `forward`: compiling the blocks (torchtitan's per-block compile) covers it;
    on a CPU device the float32 matmul precision stays torch's "highest"."""
    module = module_class(tiny_config(module_class.family, dropout=0.0), compile=True)
    names = list(module.state_dict())
    with mock.patch.object(module_class, "trainer", new_callable=mock.PropertyMock) as trainer:
        trainer.return_value.strategy.root_device = torch.device("cpu")
        module.configure_model()
        module.configure_model()  # Lightning may call it again (a later fit): blocks are compiled once
    blocks = [m for m in module.model.modules() if isinstance(m, TransformerBlock)]
    assert blocks and all(block._compiled_call_impl is not None for block in blocks)
    assert module.model._compiled_call_impl is None  # not the model's forward, which lm_loss bypasses
    assert list(module.state_dict()) == names  # checkpoints keep the eager names
    assert torch.get_float32_matmul_precision() == "highest"
