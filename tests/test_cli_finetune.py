"""The `finetune` command end to end on tiny data: fit -> test -> predict for each task and family."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tasks_fixtures import (
    TAGGED,
    classification_files,
    conll_files,
    generation_files,
    hf_backbone,
    source_option,
    write_lines,
)

from tasks.cli import main
from tasks.outputs import FinetuneResults, read_results
from tasks.per_example import resampled_metric
from tasks.registry import task_record

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
        source_option(files),
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
    returned = main(["fit", *args, "--seed_everything=3", "--test_after_fit=true",
                     f"--results_file={tmp_path / 'fit.json'}"])
    assert returned is None  # the `finetune` console script exits with main()'s return value
    after_fit = json.loads((tmp_path / "fit.json").read_text())
    assert (after_fit["task"], after_fit["family"], after_fit["seed"]) == (task, family, 3)
    assert after_fit["random_init"] is False
    assert read_results(tmp_path / "fit.json") == FinetuneResults(**after_fit)  # the typed reader sees every field
    ckpt = after_fit["finetuned_checkpoint"]
    assert ckpt and Path(ckpt).is_file()
    expected = {"classification": {"test/acc", "test/macro_f1"}, "ner": {"test/entity_f1", "test/entity_f1_LOC"},
                "generation": {"test/rouge1", "test/rouge2", "test/rougeL", "test/bleu", "test/ppl"}}[task]
    assert expected <= set(after_fit["metrics"])
    _check_per_example(task, after_fit)
    assert after_fit["documents"] is None  # files without a document column: the bootstrap takes each row as its own

    # Testing the saved checkpoint again gives the same numbers.
    main(["test", *args, f"--ckpt_path={ckpt}", f"--results_file={tmp_path / 'test.json'}"])
    again = json.loads((tmp_path / "test.json").read_text())
    for name in expected:
        assert again["metrics"][name] == pytest.approx(after_fit["metrics"][name], abs=1e-5)
    assert again["per_example"] == after_fit["per_example"]  # same order: runs pair up by index
    assert (again["best_step"], again["val"]) == (after_fit["best_step"], after_fit["val"])

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


def _check_per_example(task: str, results: dict) -> None:
    """One record per test example, in test-set order, from which the test metric is recomputed exactly."""
    per_example = results["per_example"]
    metrics = results["metrics"]
    assert resampled_metric(task, per_example) == pytest.approx(metrics[task_record(task).primary.key], abs=1e-6)
    record = task_record(task)  # the record names every metric the module logs (a renamed one would fail here)
    assert {spec.key for spec in (*record.metrics, *record.logged_only)} <= set(metrics)
    if task == "classification":
        assert len(per_example) == 16 and set(per_example) <= {0, 1}
    elif task == "ner":
        assert len(per_example) == 2 * len(TAGGED) and all(len(row) == 3 for row in per_example)
        assert sum(gold for _, _, gold in per_example) == 14  # the gold entities of the test file
    else:
        assert len(per_example) == 8  # distinct sources; references grouped
        for key in ("rouge1", "rouge2"):
            mean = sum(row[key] for row in per_example) / len(per_example)
            assert mean == pytest.approx(metrics[f"test/{key}"], abs=1e-6)


def _metric_history(log_dir: Path, name: str) -> dict[int, float]:
    """Logged values of `name` by optimizer step (Lightning logs a validation after step N at N - 1)."""
    rows = list(csv.DictReader((log_dir / "metrics.csv").open()))
    return {int(row["step"]) + 1: float(row[name]) for row in rows if row.get(name)}


@pytest.mark.parametrize("task", list(TASKS))
def test_fit_tests_the_checkpoint_with_the_best_validation_score(task: str, backbones: dict[str, str],
                                                                 tmp_path: Path) -> None:
    """The shipped config's ModelCheckpoint, validating every step: the tested checkpoint is the first
    step with the best logged validation score, and the results record it with its val metrics."""
    config = yaml.safe_load(Path(f"configs/finetune/{task}.yaml").read_text())
    checkpointing = config["trainer"]["callbacks"][0]["init_args"]
    monitor = checkpointing["monitor"]
    args = [a for a in _args(task, backbones["gpt"], tmp_path) if not a.startswith("--trainer.logger")]
    # A learning rate far too high, so the validation score does not improve at every step (best != last).
    main(["fit", "--config", f"configs/finetune/{task}.yaml", *args, "--model.lr=3.0", "--trainer.max_steps=6",
          "--trainer.val_check_interval=1", "--trainer.limit_val_batches=2",
          "--test_after_fit=true", f"--results_file={tmp_path / 'fit.json'}"])
    results = json.loads((tmp_path / "fit.json").read_text())
    history = _metric_history(tmp_path / "run" / "csv" / "version_0", monitor)
    assert sorted(history) == [1, 2, 3, 4, 5, 6]
    target = (max if checkpointing["mode"] == "max" else min)(history.values())
    best = min(step for step, value in history.items() if value == target)  # ties keep the earlier checkpoint
    assert best < 6, f"the last step is the best ({history}): the test could not tell best from last"
    assert (results["monitor"], results["best_step"]) == (monitor, best)
    assert results["val"][monitor] == pytest.approx(history[best], abs=1e-6)
    assert f"step={best}" in Path(results["finetuned_checkpoint"]).name


def test_early_stopping_ends_a_run_when_validation_stops_improving(backbones: dict[str, str],
                                                                  tmp_path: Path) -> None:
    """What a comparison plan's finetune.patience adds: the run stops `patience` validations after its best one
    and records the steps it trained; the best checkpoint is still the one tested."""
    from pretrain.compare.running.runs import early_stopping_args

    args = [a for a in _args("classification", backbones["gpt"], tmp_path) if not a.startswith("--trainer.logger")]
    main(["fit", "--config", "configs/finetune/classification.yaml", *args, "--model.lr=3.0",
          "--trainer.max_steps=30", "--trainer.val_check_interval=1", "--trainer.limit_val_batches=2",
          *early_stopping_args("classification", 2), "--test_after_fit=true", f"--results_file={tmp_path / 'r.json'}"])
    results = json.loads((tmp_path / "r.json").read_text())
    history = _metric_history(tmp_path / "run" / "csv" / "version_0", "val/acc")
    best = results["best_step"]
    assert results["steps"] == max(history) < 30, history  # stopped early, and says how long it trained
    # Lightning's EarlyStopping: stops once `patience` validations in a row fail to beat the best so far.
    assert all(history[step] <= history[best] for step in history if step > best)
    assert results["steps"] - best >= 2 and results["train_examples"] > 0


@pytest.mark.parametrize("task", list(TASKS))
def test_shipped_config_parses(task: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", f"configs/finetune/{task}.yaml", "--print_config"])
    assert exit_info.value.code in (0, None)
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["model"]["class_path"] == TASKS[task][0] and config["data"]["class_path"] == TASKS[task][1]
    assert config["model"]["init_args"]["random_init"] is False
    trainer = config["trainer"]
    assert trainer["gradient_clip_val"] == 1.0 and trainer["check_val_every_n_epoch"] is None
    assert isinstance(trainer["val_check_interval"], int)  # validation every N steps, not once per epoch
    [checkpointing] = [c["init_args"] for c in trainer["callbacks"] if c["class_path"].endswith("ModelCheckpoint")]
    assert (checkpointing["monitor"], checkpointing["mode"], checkpointing["save_top_k"]) == {
        "classification": ("val/acc", "max", 1), "ner": ("val/entity_f1", "max", 1),
        "generation": ("val/rougeL", "max", 1)}[task]
    if task == "generation":  # the checkpoint is chosen by ROUGE-L on a fixed validation subset
        assert config["model"]["init_args"]["generate_during_validation"] is True
        assert config["model"]["init_args"]["validation_decode_limit"] == 128


def test_random_init_fine_tunes_and_is_recorded(backbones: dict[str, str], tmp_path: Path) -> None:
    args = _args("classification", backbones["bert"], tmp_path)
    main(["fit", *args, "--model.random_init=true", "--test_after_fit=true", f"--results_file={tmp_path / 'r.json'}"])
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["random_init"] is True and results["checkpoint"] == backbones["bert"]
    assert results["best_step"] == 2 and 0.0 <= results["metrics"]["test/acc"] <= 1.0


def test_wrong_family_is_a_clear_error(backbones: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="holds a gpt model, but family='bert' was expected"):
        main(["fit", *_args("classification", backbones["gpt"], tmp_path), "--model.family=bert"])


def test_testing_a_checkpoint_keeps_the_runs_decoding_options(backbones: dict[str, str], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """`--ckpt_path` supplies the weights' arguments (backbone, family, BERT's generation mode); decoding
    options given on the command line win over the ones stored at training time."""
    from tasks.generation.module import GenerationModule

    args = _args("generation", backbones["gpt"], tmp_path)
    main(["fit", *args, "--test_after_fit=true", f"--results_file={tmp_path / 'fit.json'}"])
    ckpt = json.loads((tmp_path / "fit.json").read_text())["finetuned_checkpoint"]

    seen: list[tuple[int, str, str]] = []
    generate_ids = GenerationModule.generate_ids

    def spy(self: GenerationModule, batch: dict) -> list[list[int]]:
        seen.append((self.hparams.num_beams, self.hparams.bert_generation, self.hparams.checkpoint))
        return generate_ids(self, batch)

    monkeypatch.setattr(GenerationModule, "generate_ids", spy)
    without_backbone = [a for a in args if not a.startswith("--model.checkpoint")]
    main(["test", *without_backbone, "--model.checkpoint=", "--model.num_beams=3", f"--ckpt_path={ckpt}",
          f"--results_file={tmp_path / 'test.json'}"])
    assert seen and set(seen) == {(3, "masked", backbones["gpt"])}  # the backbone path came from the checkpoint

    with pytest.raises(ValueError, match=r"fine-tuned with model.bert_generation='masked', but this run sets "
                                         r"'bert2bert'"):
        main(["test", *args, "--model.bert_generation=bert2bert", f"--ckpt_path={ckpt}"])
    # A backbone given explicitly is used even if the pretrained file was elsewhere at training time.
    moved = tmp_path / "moved-backbone"
    shutil.copytree(backbones["gpt"].removeprefix("hf:"), moved)
    seen.clear()
    main(["test", *without_backbone, f"--model.checkpoint=hf:{moved}", f"--ckpt_path={ckpt}",
          f"--results_file={tmp_path / 'moved.json'}"])
    assert seen and {path for _, _, path in seen} == {f"hf:{moved}"}


def test_unreadable_fine_tuned_checkpoint_is_a_clear_error(backbones: dict[str, str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=rf"checkpoint {broken} cannot be read: it is not a PyTorch checkpoint"):
        main(["test", *_args("classification", backbones["bert"], tmp_path), f"--ckpt_path={broken}"])
    assert not (tmp_path / "run").exists()  # failed before any run folder was written


@pytest.mark.parametrize("lines", [["text\tlabel", "hello world\tcity"], ["hello world"]])
@pytest.mark.parametrize("absolute", [False, True])
def test_data_source_short_form_is_a_path_not_a_config_file(lines: list[str], absolute: bool, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`--data.source train.tsv` names the file: jsonargparse must not read an existing file as a sub-config
    (its contents became the value: 'File name too long' or a hub lookup of the first line)."""
    config = Path("configs/finetune/classification.yaml").resolve()
    monkeypatch.chdir(tmp_path)
    path = write_lines(tmp_path / "train.tsv", lines)
    value = str(path) if absolute else path.name
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(config), "--data.source", value, "--print_config"])
    assert exit_info.value.code in (0, None)
    assert yaml.safe_load(capsys.readouterr().out)["data"]["init_args"]["source"] == value


@pytest.mark.parametrize(("task", "bad_line", "message"), [
    ("classification", "birds fly high over Paris\tcountry",
     r"test.tsv:18: label 'country' is not one of the train labels \['city', 'other'\]"),
    ("ner", "Rome B-GPE",
     r"test.conll:\d+: tag 'B-GPE' is not one of the train tags \['O', 'B-LOC', 'B-PER', 'I-LOC', 'I-PER'\]"),
])
def test_test_label_missing_from_training_fails_before_the_first_step(task: str, bad_line: str, message: str,
                                                                       backbones: dict[str, str], tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Testing after fit would meet the label only after training (checkpoint, config.yaml, metrics.json
    written); the test split's labels are checked against the train split's before any step, and on the
    command line that is one line and exit status 2."""
    args = _args(task, backbones["gpt"], tmp_path)
    test_file = tmp_path / f"test.{'tsv' if task == 'classification' else 'conll'}"
    test_file.write_text(test_file.read_text(encoding="utf-8") + bad_line + "\n", encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["finetune", "fit", *args, "--test_after_fit=true"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    # (stderr also holds transformers' weight-loading progress bar)
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("finetune: error: ")]
    assert re.search(message, line), line
    assert not (tmp_path / "run").exists()  # failed before the run wrote anything


@pytest.mark.parametrize("logger_config", [None, "configs/logger/wandb.yaml"])
def test_csv_log_is_in_the_run_folder_whatever_logger_is_configured(logger_config: str | None,
                                                                   backbones: dict[str, str], tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Like `pretrain`: every metric goes to <trainer.default_root_dir>/csv, not to a folder the config fixes
    (which every run shared) and also next to W&B."""
    configs = [Path("configs/finetune/classification.yaml").resolve()]
    if logger_config is not None:
        configs.append(Path(logger_config).resolve())
    args = [a for a in _args("classification", backbones["bert"], tmp_path) if not a.startswith("--trainer.logger")]
    if logger_config is not None:
        args.append(f"--trainer.logger.init_args.save_dir={tmp_path / 'wb'}")
    monkeypatch.chdir(tmp_path)
    main(["fit", *[a for c in configs for a in ("--config", str(c))], *args, "--trainer.val_check_interval=1",
          "--trainer.log_every_n_steps=1"])
    rows = list(csv.DictReader((tmp_path / "run" / "csv" / "version_0" / "metrics.csv").open()))
    assert any(row.get("val/acc") for row in rows)
    assert not (tmp_path / "runs").exists() and not list(tmp_path.rglob("lightning_logs"))


def test_help_names_every_task_module_and_data_module() -> None:
    """`finetune fit --help` lists the task classes a user can pick for --model and --data, not only the bases.
    In a fresh process: jsonargparse lists the subclasses imported so far, and other tests import them."""
    done = subprocess.run([sys.executable, "-m", "tasks.cli", "fit", "--help"], capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    flat = " ".join(done.stdout.split())
    for module, data, _ in TASKS.values():
        assert module in flat and data in flat, (module, data)


@pytest.mark.parametrize(("option", "message"), [
    (["--model.decoder_attention", "sideways"],
     "model.decoder_attention: expected one of causal, bidirectional; got 'sideways'"),
    (["--trainer.logger.init_args.save_dir", "logs"],
     "trainer.logger: the config names no class to take these options (lightning.pytorch.loggers.Logger is "
     "abstract); name one first: --trainer.logger CLASS, a subclass of Logger"),
])
def test_a_bad_command_line_value_is_named_with_what_it_takes(option: list[str], message: str,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = Path("configs/finetune/classification.yaml").resolve()
    monkeypatch.setattr(sys, "argv", ["finetune", "fit", "--config", str(config), "--model.checkpoint", "x.ckpt",
                                      *option])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"finetune: error: {message} (PRETRAIN_DEBUG=1 shows the traceback)\n"


def test_help_lists_every_option_of_the_task_classes(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["finetune", "fit", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code in (0, None)
    out = " ".join(capsys.readouterr().out.split())
    assert "ClassificationModule: checkpoint, family, lr" in out and "decoder_attention" in out
    assert "GenerationModule:" in out and "bert_generation" in out and "NerDataModule: source" in out
