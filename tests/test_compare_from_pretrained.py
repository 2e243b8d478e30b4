"""`pretrain.from_pretrained: {bert: DIR, gpt: DIR}`: a plan fine-tunes two local Hugging Face folders (an
Ettin-style ModernBERT encoder / decoder pair) instead of pretraining, with the same fine-tuning, controls,
baselines and verdicts; the folders are checked before any run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from tasks_fixtures import classification_files, modernbert_backbone

from pretrain.compare.planning.plan import parse_plan, validate
from pretrain.compare.running.pipeline import check_matched_parameters, execute
from pretrain.compare.schema import Counts
from tasks.cli import run as finetune_run

REPO = Path(__file__).resolve().parents[1]


def _plan(tmp_path: Path, folders: dict[str, str]) -> Path:
    files = classification_files(tmp_path)
    plan = {
        "experiment": "pair", "model_dir": str(REPO / "configs/model"), "runs_dir": str(tmp_path / "runs"),
        "reports_dir": str(tmp_path / "reports"),
        "parallel_runs": 1,  # in this process: the stand-in commands below are closures, which workers cannot take
        "pretrain": {"from_pretrained": folders, "trainer": str(REPO / "configs/trainer/cpu.yaml"),
                     "bert_config": str(REPO / "configs/pretrain/bert.yaml"),
                     "gpt_config": str(REPO / "configs/pretrain/gpt.yaml")},
        "finetune": {"tasks": ["classification"], "seeds": [0], "max_steps": 2, "batch_size": 4, "max_length": 24,
                     "lrs": [1e-3], "controls": 1, "val_check_interval": 1,
                     "classification_data": {"name": str(files["train"]),
                                             "splits": {s: str(files[s]) for s in ("validation", "test")}},
                     "trainer": str(REPO / "configs/trainer/cpu.yaml"), "configs_dir": str(REPO / "configs/finetune")},
        "wandb": {"mode": "disabled"},
    }
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("pair")
    return {family: str(modernbert_backbone(family, root / family)) for family in ("bert", "gpt")}


def test_plan_fine_tunes_the_folders_instead_of_pretraining(pair: dict[str, str], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    torch.set_num_threads(1)
    resolved = validate(parse_plan(["--config", str(_plan(tmp_path, pair))]), REPO)
    check_matched_parameters(resolved)

    def no_pretraining(args: list[str]) -> None:
        raise AssertionError(f"pretrain was called: {args}")

    finetuned: list[str] = []

    def finetune(args: list[str]) -> object:
        finetuned.append(args[args.index("--model.init_args.checkpoint") + 1])
        return finetune_run(args)

    results = execute(resolved, no_pretraining, finetune)
    assert results.counts == Counts(done=8, failed=0,
                                    skipped=0)  # baseline, reference, 2 stand-ins, 2 x (fine-tune, control)
    assert sorted(set(finetuned)) == sorted(f"hf:{Path(d).resolve()}" for d in pair.values())
    saved = json.loads((tmp_path / "reports/pair/results.json").read_text())
    for family in ("bert", "gpt"):
        model = saved["pretraining"][family]["model"]
        assert model["preset"] == family and model["block_settings"]["activation"] == "geglu"
        assert saved["pretraining"][family]["tokens_seen"] == 0 and not saved["pretraining"][family]["curve"]
    task = saved["tasks"]["classification"]
    assert set(task["pretraining_effect"]) == {"bert", "gpt"} and "baseline/majority_acc" in task["baselines"]
    report = (tmp_path / "reports/pair/report.md").read_text()
    assert "each with its own tokenizer" in report and "not pretrained by this plan" in report


@pytest.mark.parametrize(("damage", "message"), [
    (lambda d: (d / "config.json").unlink(), r"pretrain.from_pretrained.gpt=.*no config.json in"),
    (lambda d: shutil.rmtree(d), r"pretrain.from_pretrained.gpt=.*: no such folder \(.*gpt\); give a local Hugging"),
    (lambda d: (d / "tokenizer.json").unlink() or (d / "tokenizer_config.json").unlink(),
     r"pretrain.from_pretrained.gpt=.*no tokenizer"),
    (lambda d: (d / "model.safetensors").unlink(), r"pretrain.from_pretrained.gpt=.*no weights"),
])
def test_a_bad_folder_is_named_before_training(pair: dict[str, str], tmp_path: Path, damage: object,
                                               message: str) -> None:
    broken = tmp_path / "gpt"
    shutil.copytree(pair["gpt"], broken)
    damage(broken)  # type: ignore[operator]
    plan = parse_plan(["--config", str(_plan(tmp_path, {"bert": pair["bert"], "gpt": str(broken)}))])
    with pytest.raises(ValueError, match=message):
        validate(plan, REPO)


def test_folders_of_the_wrong_family_or_one_missing(pair: dict[str, str], tmp_path: Path) -> None:
    swapped = parse_plan(["--config", str(_plan(tmp_path, {"bert": pair["gpt"], "gpt": pair["bert"]}))])
    with pytest.raises(ValueError, match=r"from_pretrained.bert=.*model_type='modernbert-decoder'.*not a bert model"):
        validate(swapped, REPO)
    with pytest.raises(ValueError, match=r"must name one folder per family: bert, gpt"):
        validate(parse_plan(["--config", str(_plan(tmp_path, {"bert": pair["bert"]}))]), REPO)


def test_the_start_line_says_the_architectures_are_as_released(
        pair: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import pretrain.compare.command as command

    def stop(resolved: object) -> None:
        raise ValueError("no runs in this test")

    monkeypatch.setattr(command, "run", stop)
    monkeypatch.chdir(REPO)
    assert command.main(["--config", str(_plan(tmp_path, pair))]) == 2
    start = capsys.readouterr().out.splitlines()[0]
    assert start.startswith("[compare] pair (architectures as released): ") and "matched" not in start
