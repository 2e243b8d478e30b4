"""A size ladder: the comparison plan once per model size, as Ettin pairs its encoders and decoders at every size on
the same data and recipe (Weller et al. 2025, arXiv:2507.11412), so the question becomes whether the winner changes
as models grow.

Each size (ComparePlan.sizes) is the whole plan with that size's matched presets: the same tokenizer settings and
data, its own learning-rate searches per group, controls, baselines and seeds, each checked as the default plan's
pair is (identical bodies, parameters within param_tolerance). Its runs, report and W&B group are those of the
experiment `<experiment>-<size>`, so each size is also a complete comparison on its own. A size pretrains
pretrain.tokens, or `tokens_per_parameter` times its non-embedding parameters (Chinchilla's ~20 per parameter,
Hoffmann et al. 2022, arXiv:2203.15556, is where a size's tokens stop being its bottleneck).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from pretrain.compare.planning.plan import ComparePlan, LadderRung, ResolvedPlan, validate


@dataclass(frozen=True)
class ResolvedRung:
    """One size, validated: its plan and the families' non-embedding parameters."""

    rung: LadderRung
    resolved: ResolvedPlan
    non_embedding_params: dict[str, int]


def rung_plan(plan: ComparePlan, rung: LadderRung, tokens: int | None = None) -> ComparePlan:
    """The plan of one size: the ladder's, with the size's presets, its own experiment (run folder, report and W&B
    group `<experiment>-<size>`) and, where given, its own pretraining tokens."""
    pretrain = plan.pretrain if tokens is None else replace(plan.pretrain, tokens=tokens)
    return replace(plan, experiment=f"{plan.experiment}-{rung.name}", bert_model=rung.bert_model,
                   gpt_model=rung.gpt_model, pretrain=pretrain, sizes=[], tokens_per_parameter=None)


def rung_tokens(plan: ComparePlan, non_embedding_params: dict[str, int]) -> int:
    """pretrain.tokens, or tokens_per_parameter x the larger family's non-embedding parameters, in whole steps
    (at least one)."""
    if plan.tokens_per_parameter is None:
        return plan.pretrain.tokens
    step = plan.pretrain.tokens_per_step
    return max(1, round(plan.tokens_per_parameter * max(non_embedding_params.values()) / step)) * step


def resolve_rungs(plan: ComparePlan, root: Path, check_data: bool = True) -> list[ResolvedRung]:
    """Every size validated and its pair checked before anything trains: a bad size costs seconds, not the sizes
    before it."""
    from pretrain.compare.running.pipeline import check_matched_parameters  # the pipeline imports the planning

    rungs = []
    for rung in plan.sizes:
        resolved = validate(rung_plan(plan, rung), root, check_data=check_data and not rungs)  # one data set
        counts = check_matched_parameters(resolved)
        tokens = rung_tokens(plan, counts)
        if tokens != resolved.plan.pretrain.tokens:
            resolved = replace(resolved, plan=rung_plan(plan, rung, tokens))
        rungs.append(ResolvedRung(rung, resolved, counts))
    return rungs
