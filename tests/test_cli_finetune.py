"""The `finetune` command end to end on tiny data: fit -> test -> predict for each task and family."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tasks_fixtures import TAGGED, classification_files, conll_files, generation_files, hf_backbone

from tasks.cli import main

TASKS = {
    "classification": ("tasks.classification.module.ClassificationModule",
                       "tasks.classification.data.ClassificationDataModule", classification_files),
    "ner": ("tasks.ner.module.NerModule", "tasks.ner.data.NerDataModule", conll_files),
    "generation": ("tasks.generation.module.GenerationModule", "tasks.generation.data.GenerationDataModule",
                   generation_files),
}


@pytest.fixture(scope="module")
def backbones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("backbones")
    return {family: hf_backbone(family, root / family) for family in ("bert", "gpt")}


def _args(task: str, checkpoint: str, tmp_path: Path) -> list[str]:
    module, data, make_files = TASKS[task]
    files = make_files(tmp_path)
    args = [
        "--model", module, f"--model.checkpoint={checkpoint}", "--model.lr=1e-3", "--data", data,
        *[f"--data.{split}_file={path}" for split, path in files.items()],
        "--data.batch_size=4", "--data.max_length=24", f"--trainer.default_root_dir={tmp_path / 'run'}",
        "--trainer.max_steps=2", "--trainer.limit_val_batches=1", "--trainer.enable_progress_bar=false",
        "--trainer.logger=false", "--trainer.enable_model_summary=false",
    ]
    if task == "generation":
        args += ["--data.max_target_length=8", "--model.max_new_tokens=4"]
    return args


@pytest.mark.parametrize("family", ["bert", "gpt"])
@pytest.mark.parametrize("task", list(TASKS))
def test_fit_test_predict(task: str, family: str, backbones: dict[str, str], tmp_path: Path) -> None:
    args = _args(task, backbones[family], tmp_path)
    main(["fit", *args, "--seed_everything=3", "--test_after_fit=true", f"--results_file={tmp_path / 'fit.json'}"])
    after_fit = json.loads((tmp_path / "fit.json").read_text())
    assert (after_fit["task"], after_fit["family"], after_fit["seed"]) == (task, family, 3)
    ckpt = after_fit["finetuned_checkpoint"]
    assert ckpt and Path(ckpt).is_file()
    expected = {"classification": {"test/acc", "test/macro_f1"}, "ner": {"test/entity_f1", "test/entity_f1_LOC"},
                "generation": {"test/rouge1", "test/rouge2", "test/rougeL", "test/bleu", "test/ppl"}}[task]
    assert expected <= set(after_fit["metrics"])

    # Testing the saved checkpoint again gives the same numbers.
    main(["test", *args, f"--ckpt_path={ckpt}", f"--results_file={tmp_path / 'test.json'}"])
    again = json.loads((tmp_path / "test.json").read_text())
    for name in expected:
        assert again["metrics"][name] == pytest.approx(after_fit["metrics"][name], abs=1e-5)

    predictions = tmp_path / "predictions.out"
    main(["predict", *args, f"--ckpt_path={ckpt}", f"--predictions_file={predictions}"])
    lines = predictions.read_text(encoding="utf-8").splitlines()
    if task == "classification":
        assert len(lines) == 16 and set(lines) <= {"city", "other"}
    elif task == "ner":
        sentences = [s for s in "\n".join(lines).split("\n\n") if s.strip()]
        assert len(sentences) == 2 * len(TAGGED)
        first = [line.split(" ") for line in sentences[0].splitlines()]
        assert [(w, g) for w, g, _ in first] == list(zip(*TAGGED[0]))
    else:
        records = [json.loads(line) for line in lines]
        assert len(records) == 8 and all(len(r["references"]) == 2 for r in records)


@pytest.mark.parametrize("task", list(TASKS))
def test_shipped_config_parses(task: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", f"configs/finetune/{task}.yaml", "--print_config"])
    assert exit_info.value.code in (0, None)
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["model"]["class_path"] == TASKS[task][0] and config["data"]["class_path"] == TASKS[task][1]


def test_wrong_family_is_a_clear_error(backbones: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="holds a gpt model, but family='bert' was expected"):
        main(["fit", *_args("classification", backbones["gpt"], tmp_path), "--model.family=bert"])
