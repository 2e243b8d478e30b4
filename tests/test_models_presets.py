"""Every preset under configs/model parses; bert-base and gpt2-small match Hugging Face's parameter counts."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import BertForPreTraining, GPT2LMHeadModel

from pretrain.blocks import TransformerConfig
from pretrain.hf import bert_config_to_hf, gpt2_config_to_hf
from pretrain.models import count_parameters
from pretrain.models.summary import build_preset, main, summarize

PRESETS = sorted((Path(__file__).parents[1] / "configs" / "model").glob("*.yaml"))


def test_the_required_presets_exist() -> None:
    names = {p.stem for p in PRESETS}
    for size in ("tiny", "mini", "small"):
        assert {f"bert-{size}", f"gpt-{size}"} <= names
    assert {"bert-base", "gpt2-small"} <= names


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_every_preset_parses_and_lists_every_field(path: Path) -> None:
    config = TransformerConfig.from_yaml(path)
    text = path.read_text()
    for field in config.to_dict():  # complete presets: --print_config shows no hidden defaults
        assert f"\n{field}:" in text, f"{path.name} lacks {field}"


@pytest.mark.parametrize(
    ("name", "hf_class", "to_hf_config", "expected"),
    [
        ("bert-base", BertForPreTraining, bert_config_to_hf, 110_106_428),
        ("gpt2-small", GPT2LMHeadModel, gpt2_config_to_hf, 124_439_808),
    ],
)
def test_parameter_count_equals_hugging_face(name: str, hf_class: type, to_hf_config: object, expected: int) -> None:
    path = next(p for p in PRESETS if p.stem == name)
    _, ours = build_preset(path)
    with torch.device("meta"):
        theirs = hf_class(to_hf_config(ours.config))  # type: ignore[operator]
    assert count_parameters(ours) == theirs.num_parameters() == expected


def test_from_yaml_errors_name_the_file_and_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bert-bad.yaml"
    bad.write_text("d_model: 30\nn_heads: 4\n")
    with pytest.raises(ValueError, match=r"bert-bad.yaml: d_model=30 must be divisible by n_heads=4"):
        TransformerConfig.from_yaml(bad)
    bad.write_text("d_modle: 32\n")
    with pytest.raises(ValueError, match=r"bert-bad.yaml: unknown field\(s\) \['d_modle'\]"):
        TransformerConfig.from_yaml(bad)
    bad.write_text("- 1\n")
    with pytest.raises(ValueError, match="bert-bad.yaml: expected a mapping"):
        TransformerConfig.from_yaml(bad)
    other = tmp_path / "t5.yaml"
    other.write_text("d_model: 32\n")
    with pytest.raises(ValueError, match="cannot tell the model family"):
        build_preset(other)


def test_summary_command_prints_every_preset(capsys: pytest.CaptureFixture[str]) -> None:
    main([str(p) for p in PRESETS])
    out = capsys.readouterr().out
    assert "124,439,808" in out and "110,106,428" in out
    tiny = summarize(next(p for p in PRESETS if p.stem == "gpt-tiny"))
    assert tiny.non_embedding_parameters < tiny.parameters and tiny.flops_per_token > 6 * tiny.parameters


def test_flops_per_token_count_the_output_projection_once_tied_or_not() -> None:
    from pretrain.models import GptModel, flops_per_token

    tied = TransformerConfig(tie_embeddings=True)
    untied = TransformerConfig(tie_embeddings=False)
    assert flops_per_token(GptModel(tied), tied, 64) == flops_per_token(GptModel(untied), untied, 64)
    model = GptModel(tied)
    n = count_parameters(model, exclude_embeddings=True) + tied.vocab_size * tied.d_model
    assert flops_per_token(model, tied, 64) == 6 * n + 12 * tied.n_layers * tied.d_model * 64
