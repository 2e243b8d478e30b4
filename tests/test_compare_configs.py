"""Every shipped compare plan and sweep file parses and validates against this repository."""

from pathlib import Path

import pytest

from pretrain.compare.planning.ladder import resolve_rungs
from pretrain.compare.planning.plan import overlay_base, parse_plan, validate
from pretrain.compare.running.pipeline import check_matched_parameters
from pretrain.compare.sweeps.sweep import load_sweep, trials

pytestmark = pytest.mark.usefixtures("private_datasets_cache")  # conftest.py

REPO = Path(__file__).resolve().parents[1]
PLANS = sorted((REPO / "configs/compare").glob("*.yaml"))
SWEEPS = sorted((REPO / "configs/sweeps").glob("*.yaml"))


@pytest.mark.parametrize("path", [p for p in PLANS if p.name != "local.yaml"], ids=lambda p: p.name)
def test_compare_plan_validates(path: Path, hub_copies: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hub data sets are checked against copies in the hub's schemas (no network); local.yaml names files
    a user provides, and is validated in test_compare_local.py over files that test writes."""
    monkeypatch.chdir(REPO)
    base = overlay_base(path)  # an overlay plan runs after the plan it changes
    configs = (["--config", str(REPO / base)] if base else []) + ["--config", str(path)]
    resolved = validate(parse_plan([*configs, "--datasets_dir", str(hub_copies)]), REPO)
    counts = check_matched_parameters(resolved)  # raises if the presets are not matched in size
    assert counts["bert"] > 0 and counts["gpt"] > 0
    rungs = resolve_rungs(resolved.plan, REPO)  # a ladder: every size's pair, matched
    sizes = [rung.non_embedding_params["bert"] for rung in rungs]
    assert sizes == sorted(sizes)  # listed smallest first


def test_default_plan_is_the_builtin_corpus() -> None:
    plan = parse_plan(["--config", str(REPO / "configs/compare/default.yaml")])
    assert plan.pretrain.data == "builtin" and plan.pretrain.shared_tokenizer
    assert plan.finetune.tasks == ["classification", "ner", "generation"] and len(plan.finetune.seeds) >= 2


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.name)
def test_sweep_file_enumerates(path: Path) -> None:
    config = load_sweep(path)
    assert trials(config, 2, seed=0)
