"""The comparison's typed results: what a run returns, what the ledger stores, and results.json.

Every result that crosses a module boundary of the comparison is one of these dataclasses, written and
read here only, so a renamed field is an AttributeError where it is used, not a KeyError at report time:

    RunRecord            one run in the ledger; `result` is typed by the run's stage:
                         pretrain -> PretrainResult, finetune/control -> tasks.outputs.FinetuneResults,
                         baseline -> {"baseline/<name>": value}, reference -> {"reference/<name>": value};
                         {} when the run did not finish
    PretrainResult       one pretraining run: validation metrics, loss curve, probe checkpoints, model facts
    ComparisonResults    results.json: plan, environment, pretraining, tasks, runs, counts, wall times

`to_dict` gives exactly the JSON layout results.json and ledger.json have always had (same keys, same
order), so files written before these types existed read back, and readers of the files see no change.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pretrain.arms import MISSION_ARMS
from pretrain.compare.analysis.bootstrap import PairedDifference
from pretrain.compare.analysis.pretraining_spread import PretrainingSpread
from pretrain.compare.analysis.regime import data_regime
from pretrain.compare.analysis.stats import Summary
from pretrain.compare.analysis.verdict import Verdict
from pretrain.compare.running.run_identity import FINETUNE_STAGES, RunIdentity
from pretrain.data.caching import atomic_write
from tasks.outputs import FinetuneResults


@dataclass
class ModelFacts:
    """Sizes and training FLOPs per token of a pretrained model, read from its final checkpoint."""

    preset: str
    params: int
    non_embedding_params: int
    flops_per_token: float
    vocab_size: int | None = None
    block_settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class AttentionExample:
    """The last layer's attention over one text, averaged over heads: the report's heat map."""

    tokens: list[str]
    weights: list[list[float]]  # (T, T)


@dataclass
class PretrainResult:
    """What one pretraining run of a plan yields (the ledger's `result` of a pretrain run)."""

    metrics: dict[str, float]  # the last logged value of every val/ metric
    curve: list[dict[str, float]]  # one point per logged step: "step", "tokens" and the logged metrics
    tokens_seen: float
    model: ModelFacts
    attention: AttentionExample
    supervised_tokens: float | None = None
    steps: int | None = None
    checkpoints: dict[str, str] = field(default_factory=dict)  # probe step (as text) -> checkpoint path
    train_wall_s: float | None = None
    train_tokens: float | None = None  # unique tokens of the training split (data/train_tokens; None: streamed)

    def to_dict(self) -> dict[str, Any]:
        # The key order the pipeline has always written (ledger.json and results.json keep their layout).
        order = ("metrics", "curve", "tokens_seen", "supervised_tokens", "steps", "checkpoints", "model",
                 "attention", "train_wall_s", "train_tokens")
        out = asdict(self)
        return {key: out[key] for key in order}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PretrainResult:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        values["model"] = ModelFacts(**raw["model"])
        values["attention"] = AttentionExample(**raw["attention"])
        return cls(**values)


RunResult = PretrainResult | FinetuneResults | dict[str, float]


def result_from_dict(stage: str | None, raw: RunResult) -> RunResult:
    """The typed result of a run of `stage` from its JSON form (typed values pass through; {} stays {})."""
    if not isinstance(raw, dict) or not raw:
        return raw
    if stage == "pretrain":
        return PretrainResult.from_dict(raw)
    if stage in FINETUNE_STAGES:  # a FinetuneResults
        known = {f.name for f in dataclasses.fields(FinetuneResults)}
        return FinetuneResults(**{k: v for k, v in raw.items() if k in known})
    return raw  # baselines and references: {"baseline/<name>": value}, {"reference/<name>": value}


def result_to_dict(result: RunResult) -> dict[str, Any]:
    if isinstance(result, PretrainResult):
        return result.to_dict()
    return asdict(result) if isinstance(result, FinetuneResults) else dict(result)


@dataclass
class RunRecord:
    run_id: str
    status: str  # done | failed | skipped (a dependency failed)
    identity: RunIdentity  # what the run is (stage, family, task, seeds, ...): "meta" in the JSON
    wall_s: float = 0.0
    result: RunResult = field(default_factory=dict)
    error: str = ""
    finished_at: str = ""

    def __post_init__(self) -> None:
        self.result = result_from_dict(self.identity.stage, self.result)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "meta": self.identity.to_dict(), "wall_s": self.wall_s,
                "result": result_to_dict(self.result), "error": self.error, "finished_at": self.finished_at}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunRecord:
        rest = {k: v for k, v in raw.items() if k != "meta"}
        return cls(**rest, identity=RunIdentity.from_dict(raw["meta"]))


@dataclass
class SeedRun:
    """One pretraining seed of a family: how it ended and its validation metrics."""

    status: str
    wall_s: float
    metrics: dict[str, float]


@dataclass
class FamilyPretraining:
    """A family's pretraining in results.json: the first seed's run (curve, model facts, attention) and every
    seed's status and metrics. `result` is None when the first seed did not finish."""

    status: str
    wall_s: float
    error: str
    result: PretrainResult | None
    seeds: dict[str, SeedRun]

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "wall_s": self.wall_s, "error": self.error,
                **(self.result.to_dict() if self.result is not None else {}),
                **({"data_regime": data_regime(self.result).to_dict()} if self.result is not None else {}),
                "seeds": {seed: asdict(run) for seed, run in self.seeds.items()}}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FamilyPretraining:
        return cls(raw["status"], raw["wall_s"], raw["error"],
                   PretrainResult.from_dict(raw) if "model" in raw else None,
                   {seed: SeedRun(**run) for seed, run in raw.get("seeds", {}).items()})


@dataclass
class Group:
    """Seeds, budget and metric summaries of a group of fine-tuning runs (pretraining x fine-tuning seeds)."""

    seeds: list[int]
    pretrain_seeds: list[int]
    runs: list[str]
    failed_seeds: list[int]
    lr: float | None
    tokens: float | None
    flops: float | None
    metrics: dict[str, Summary]

    def to_dict(self) -> dict[str, Any]:
        return {**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)},
                "metrics": {k: s.to_dict() for k, s in self.metrics.items()}}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Group:
        return cls(**{**raw, "metrics": {k: Summary.from_dict(s) for k, s in raw["metrics"].items()}})


@dataclass
class ProbeGroup(Group):
    """A family's group at one pretraining checkpoint; `step` is None when the family has no checkpoint at
    this probe index (FLOPs matching gives the families different step counts)."""

    step: int | None = None


@dataclass
class Probe:
    step: int
    families: dict[str, ProbeGroup]

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "families": {f: g.to_dict() for f, g in self.families.items()}}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Probe:
        return cls(raw["step"], {f: ProbeGroup.from_dict(g) for f, g in raw["families"].items()})


@dataclass
class LrChoice:
    """The learning rate each group chose on validation (pretrained, and its random-init control, each its own),
    and whether the choice is still an edge of the rates the group tried (the search hit lr_bounds)."""

    pretrained: float | None
    random_init: float | None
    pretrained_on_edge: bool = False
    random_init_on_edge: bool = False


@dataclass
class GridPoint:
    """One run of a group's learning-rate search: its rate, validation score and how long it trained."""

    family: str
    lr: float
    status: str
    monitor: str | None
    val: float | None
    random_init: bool = False
    steps: int | None = None  # optimizer steps trained (early stopping may end a run before its budget)
    epochs: float | None = None  # passes over the task's training split


@dataclass
class Convergence:
    """Whether a task's fine-tuning runs ran long enough: a run converged when validation stopped it or its best
    checkpoint came before the last step it was allowed; `at_cap` names the others (still improving at the end)."""

    runs: int
    stopped: int  # ended by early stopping before the step cap
    at_cap: list[str]  # best checkpoint at the cap: the budget, not validation, ended them

    @property
    def converged(self) -> int:
        return self.runs - len(self.at_cap)


@dataclass
class PretrainingEffect:
    """Pretrained minus random-init on the task's headline metric (the paired hierarchical bootstrap; its `covers`
    says over what)."""

    metric: str
    paired: PairedDifference

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, **self.paired.to_dict()}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PretrainingEffect:
        return cls(raw["metric"], PairedDifference(**{k: v for k, v in raw.items() if k != "metric"}))


@dataclass
class MetricVerdict:
    """BERT against GPT on one metric, with the paired bootstrap when both recorded per-example scores."""

    metric: str
    verdict: Verdict
    paired_bootstrap: PairedDifference | None

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, **self.verdict.to_dict(),
                "paired_bootstrap": self.paired_bootstrap.to_dict() if self.paired_bootstrap else None}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> MetricVerdict:
        names = [f.name for f in dataclasses.fields(Verdict)]
        paired = raw.get("paired_bootstrap")
        return cls(raw["metric"], Verdict(**{k: raw[k] for k in names}), PairedDifference(**paired) if paired else None)


@dataclass
class ArmComparison:
    """One arm minus one of the mission's arms (bert, gpt) on a task's headline metric by the verdicts' two-test
    rule, both tests' p-values Holm-corrected over all of the task's arm comparisons
    (pretrain.compare.analysis.arms): the paired bootstrap and Welch's test over runs. Results written before the
    rule applied here hold the bootstrap alone (the runs' fields None, `evidence` empty)."""

    arm: str
    against: str
    metric: str
    paired: PairedDifference
    p_holm: float  # the bootstrap's p-value, Holm-adjusted
    significant: bool  # both corrected tests below the family-wise 5% (verdict.judge)
    runs_p: float | None = None  # Welch's over runs; None with one run per arm
    runs_p_holm: float | None = None
    p_holm_bound: bool = False  # p_holm is an upper bound (reached from a bootstrap p below 1 / replicates)
    evidence: str = ""  # the two tests in words, as the report prints them

    def to_dict(self) -> dict[str, Any]:
        return {"arm": self.arm, "against": self.against, "metric": self.metric, **self.paired.to_dict(),
                "p_holm": self.p_holm, "significant": self.significant, "runs_p": self.runs_p,
                "runs_p_holm": self.runs_p_holm, "p_holm_bound": self.p_holm_bound, "evidence": self.evidence}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ArmComparison:
        names = [f.name for f in dataclasses.fields(PairedDifference)]
        paired = PairedDifference(**{k: raw[k] for k in names if k in raw})  # older files lack the later fields
        return cls(raw["arm"], raw["against"], raw["metric"], paired, raw["p_holm"], raw["significant"],
                   raw.get("runs_p"), raw.get("runs_p_holm"), raw.get("p_holm_bound", False), raw.get("evidence", ""))


@dataclass
class TaskResults:
    """One task in results.json: baselines, groups per probe, controls, chosen rates, effects and verdicts, and
    the classical references (pretrain.compare.analysis.references), kept apart from the trivial baselines: no verdict
    reads them. Results written before references existed read back with none."""

    baselines: dict[str, float]
    probes: list[Probe]
    controls: dict[str, Group]
    lr: dict[str, LrChoice]
    grid: list[GridPoint]
    pretraining_effect: dict[str, PretrainingEffect]
    verdicts: list[MetricVerdict]
    failed: list[str]
    references: dict[str, float] = field(default_factory=dict)
    # Plans with more arms than bert and gpt: each other arm against both (empty, and not written, otherwise).
    arm_comparisons: list[ArmComparison] = field(default_factory=list)
    # Plans with several pretraining seeds: the headline metric per seed and the spread of the families' gap.
    pretraining_spread: PretrainingSpread | None = None
    convergence: Convergence | None = None  # results written before it was recorded read back with None

    def final(self) -> dict[str, ProbeGroup] | None:
        """Each family's group at the last probe (the final checkpoints), or None when no run finished."""
        return self.probes[-1].families if self.probes else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "baselines": self.baselines, "references": self.references,
            "probes": [p.to_dict() for p in self.probes],
            "controls": {f: g.to_dict() for f, g in self.controls.items()},
            "lr": {f: asdict(c) for f, c in self.lr.items()}, "grid": [asdict(g) for g in self.grid],
            "pretraining_effect": {f: e.to_dict() for f, e in self.pretraining_effect.items()},
            "verdicts": [v.to_dict() for v in self.verdicts], "failed": self.failed,
        } | ({"arm_comparisons": [c.to_dict() for c in self.arm_comparisons]} if self.arm_comparisons else {}) | (
            {"pretraining_spread": self.pretraining_spread.to_dict()} if self.pretraining_spread else {}) | (
            {"convergence": asdict(self.convergence)} if self.convergence else {})

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TaskResults:
        return cls(
            raw["baselines"], [Probe.from_dict(p) for p in raw["probes"]],
            {f: Group.from_dict(g) for f, g in raw["controls"].items()},
            {f: LrChoice(**c) for f, c in raw["lr"].items()}, [GridPoint(**g) for g in raw["grid"]],
            {f: PretrainingEffect.from_dict(e) for f, e in raw["pretraining_effect"].items()},
            [MetricVerdict.from_dict(v) for v in raw["verdicts"]], raw["failed"], raw.get("references", {}),
            [ArmComparison.from_dict(c) for c in raw.get("arm_comparisons", [])],
            PretrainingSpread.from_dict(raw["pretraining_spread"]) if "pretraining_spread" in raw else None,
            Convergence(**raw["convergence"]) if "convergence" in raw else None,
        )


@dataclass
class Environment:
    """Versions, git commit and machine: what a reader needs to reproduce or distrust a number."""

    versions: dict[str, str | None]
    git_commit: str | None
    git_dirty: bool
    platform: str
    cpu_count: int | None
    accelerator: str | None
    created: str
    # The cores this process may use (pretrain.compare.planning.cores); older files: None.
    usable_cores: int | None = None


@dataclass
class Counts:
    done: int
    failed: int
    skipped: int


@dataclass
class WallTimes:
    elapsed: float | None  # this invocation, start to report (runs overlap)
    per_stage_run_total: dict[str, float]  # per stage: the runs' own wall times, summed


@dataclass
class ComparisonResults:
    """results.json. `plan` is the plan as saved in runs/<experiment>/plan.json (ComparePlan's fields)."""

    experiment: str
    plan: dict[str, Any]
    environment: Environment
    pretraining: dict[str, FamilyPretraining]
    pretraining_verdicts: dict[str, str]
    tasks: dict[str, TaskResults]
    runs: list[RunRecord]
    counts: Counts
    wall_s: WallTimes

    @property
    def arms(self) -> list[str]:
        """The plan's arms (results written before arms existed: bert and gpt)."""
        return list(self.plan.get("arms", MISSION_ARMS))

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment, "plan": self.plan, "environment": asdict(self.environment),
            "pretraining": {f: p.to_dict() for f, p in self.pretraining.items()},
            "pretraining_verdicts": self.pretraining_verdicts,
            "tasks": {t: e.to_dict() for t, e in self.tasks.items()},
            "runs": [r.to_dict() for r in self.runs], "counts": asdict(self.counts), "wall_s": asdict(self.wall_s),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ComparisonResults:
        return cls(
            raw["experiment"], raw["plan"], Environment(**raw["environment"]),
            {f: FamilyPretraining.from_dict(p) for f, p in raw["pretraining"].items()}, raw["pretraining_verdicts"],
            {t: TaskResults.from_dict(e) for t, e in raw["tasks"].items()},
            [RunRecord.from_dict(r) for r in raw["runs"]],
            Counts(**raw["counts"]), WallTimes(**raw["wall_s"]),
        )


def write_comparison(results: ComparisonResults, path: Path) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(results.to_dict(), indent=2, default=str)))


def read_comparison(path: Path) -> ComparisonResults:
    """results.json as written by `write_comparison`; a file that is not one is a ValueError naming it."""
    try:
        return ComparisonResults.from_dict(json.loads(Path(path).read_text()))
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: not a readable comparison results.json ({type(error).__name__}: {error})") from None
