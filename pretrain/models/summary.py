"""Print parameter counts and training FLOPs per token of model presets.

    python -m pretrain.models.summary configs/model/*.yaml

The family comes from the file name: `bert*` builds a BertModel, `gpt*` a GptModel.
Models are built on the meta device, so even bert-base costs no memory or time.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import torch

from pretrain.blocks.config import TransformerConfig
from pretrain.models.bert import BertModel
from pretrain.models.counting import count_parameters, flops_per_token
from pretrain.models.gpt import GptModel


@dataclass
class PresetSummary:
    name: str
    family: str
    parameters: int
    non_embedding_parameters: int
    flops_per_token: int  # training (forward + backward) at seq_len = max_positions


def build_preset(path: str | Path) -> tuple[str, BertModel | GptModel]:
    """(family, model on the meta device) for a preset file named bert-*.yaml or gpt*.yaml."""
    name = Path(path).stem
    config = TransformerConfig.from_yaml(path)
    with torch.device("meta"):
        if name.startswith("bert"):
            return "bert", BertModel(config)
        if name.startswith("gpt"):
            return "gpt", GptModel(config)
    raise ValueError(f"{path}: cannot tell the model family; preset names start with 'bert' or 'gpt'")


def summarize(path: str | Path) -> PresetSummary:
    family, model = build_preset(path)
    config = model.config
    return PresetSummary(
        name=Path(path).stem, family=family, parameters=count_parameters(model),
        non_embedding_parameters=count_parameters(model, exclude_embeddings=True),
        flops_per_token=flops_per_token(model, config, config.max_positions),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("presets", nargs="+", help="configs/model/*.yaml")
    args = parser.parse_args(argv)
    print(f"{'preset':<12} {'family':<6} {'params':>13} {'non-embedding':>14} {'train FLOPs/token':>18}")
    for path in args.presets:
        s = summarize(path)
        print(f"{s.name:<12} {s.family:<6} {s.parameters:>13,} {s.non_embedding_parameters:>14,} "
              f"{s.flops_per_token:>18.3e}")


if __name__ == "__main__":
    main()
