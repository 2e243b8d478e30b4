"""Reading runs back: CSV logs -> curves and final metrics, probe checkpoints, CLI exits."""

from pathlib import Path

import pytest
import torch
import yaml
from mini_plans import REPO, mini_plan_file

from pretrain.compare.planning.plan import parse_plan, validate
from pretrain.compare.running.runs import (
    call,
    curve,
    final_metrics,
    predicted_fraction,
    pretrain_args,
    probe_checkpoints,
    read_metrics_csv,
    subprocess_cli,
)
from pretrain.data.global_batches import DrawnExamples, GlobalBatchSampler
from pretrain.data.gpt_batches import PackedBlocks
from pretrain.family import MLM_PROBABILITY
from pretrain.models import BertModel, TransformerConfig, flops_per_token


def test_metrics_csv_to_curve(tmp_path: Path) -> None:
    for version, rows in ((0, "step,train/loss\n0,9.0\n"),
                          (1, "epoch,step,train/loss,train/tokens_seen,val/loss,val/ppl\n"
                              "0,1,6.0,256,,\n0,1,,,5.5,244.7\n0,3,4.0,512,,\n0,3,,,4.5,90.0\n")):
        log = tmp_path / f"csv/version_{version}/metrics.csv"
        log.parent.mkdir(parents=True)
        log.write_text(rows)
    points = curve(read_metrics_csv(tmp_path), tokens_per_step=128)  # the newest version only
    assert [(p["step"], p["tokens"], p["train/loss"], p["val/loss"]) for p in points] == [(1, 256, 6.0, 5.5),
                                                                                         (3, 512, 4.0, 4.5)]
    assert final_metrics(points) == {"val/loss": 4.5, "val/ppl": 90.0}
    with pytest.raises(ValueError, match="no CSV metrics log"):
        read_metrics_csv(tmp_path / "nothing")


def test_probe_checkpoints(tmp_path: Path) -> None:
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints/probe-step=4.ckpt").write_bytes(b"x")
    assert probe_checkpoints(tmp_path, [4]) == {4: tmp_path / "checkpoints/probe-step=4.ckpt"}
    with pytest.raises(ValueError, match="no checkpoint for step 8"):
        probe_checkpoints(tmp_path, [4, 8])


def test_cli_exits_become_errors() -> None:
    def exits(code: int | None) -> None:
        raise SystemExit(code)

    call(lambda args: exits(0), ["fit"])  # a clean exit is fine
    with pytest.raises(RuntimeError, match="exited with status 2"):
        call(lambda args: exits(2), ["fit"])
    with pytest.raises(RuntimeError, match="json.tool .* exited with status"):
        subprocess_cli("json.tool")(["/nonexistent/file.json"])


def test_subprocess_runs_keep_their_output_in_the_run_folder(tmp_path) -> None:
    run = tmp_path / "run-1"
    with pytest.raises(RuntimeError, match=r"its output is in .*run-1/run.log"):
        subprocess_cli("json.tool")(["/nonexistent/file.json", "--trainer.default_root_dir", str(run)])
    assert "No such file" in (run / "run.log").read_text() or "nonexistent" in (run / "run.log").read_text()


def test_progress_lines_count_runs_and_estimate_the_time_left() -> None:
    from pretrain.compare.running.ledger import RunRecord
    from pretrain.compare.running.pool import Progress
    from pretrain.compare.running.run_identity import RunIdentity

    finetuning = RunIdentity.finetuning("bert", "ner", 0, 0, 1e-3, False, 4, True)
    control = RunIdentity.finetuning("gpt", "ner", 0, 0, 1e-3, True, 4, True)

    progress = Progress(total=4, workers=2)
    assert progress.line(RunRecord("baseline-ner", "done", RunIdentity.for_task("baseline", "ner"), 1.0)) == \
        "[1/4] baseline-ner: done (1 s)"  # no estimate before any fine-tuning run
    line = progress.line(RunRecord("finetune-ner-bert", "done", finetuning, 60.0))
    assert line == "[2/4] finetune-ner-bert: done (60 s), ~1 min left"  # 2 left x 60 s over 2 at a time
    failed = progress.line(RunRecord("control-ner-gpt", "failed", control, 5.0, error="x\nValueError: bad"))
    assert failed.startswith("[3/4] control-ner-gpt: failed (5 s) -- ValueError: bad")


def test_flop_count_reads_the_runs_own_masking_rate(tmp_path: Path) -> None:
    """A BERT run with another mlm_probability projects another share of positions: its FLOPs per token change."""
    assert predicted_fraction("bert", tmp_path) == MLM_PROBABILITY  # no config.yaml: the default
    config = {"data": {"class_path": "pretrain.data.BertDataModule", "init_args": {"mlm_probability": 0.3}}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    assert predicted_fraction("bert", tmp_path) == 0.3 and predicted_fraction("gpt", tmp_path) == 1.0
    model_config = TransformerConfig(vocab_size=64, d_model=16, n_layers=1, n_heads=2, d_ff=32)
    model = BertModel(model_config)
    default = flops_per_token(model, model_config, 16, MLM_PROBABILITY)
    assert flops_per_token(model, model_config, 16, predicted_fraction("bert", tmp_path)) > default


def test_each_pretraining_seed_draws_its_own_data(tmp_path: Path) -> None:
    """A second pretraining seed varies data order, NSP pairs, masks and GPT's block cuts, not only the weights: the
    data seed of every pretraining run is its own seed, and two seeds give two different first batches."""
    resolved = validate(parse_plan(["--config", str(mini_plan_file(tmp_path, pretrain={"seeds": [0, 1]}))]), REPO,
                        check_data=False)
    for arm in ("bert", "gpt"):
        for seed in (0, 1):
            args = pretrain_args(resolved, arm, seed, 6, tmp_path / f"{arm}{seed}")
            assert args[args.index("--data.init_args.seed") + 1] == str(seed)
            assert args[args.index("--seed_everything") + 1] == str(seed)

    def first_batch(seed: int) -> torch.Tensor:  # what a data module of that seed reads first (GPT: order and cut)
        blocks = PackedBlocks(torch.arange(4000).numpy(), torch.tensor([0]).numpy(), 16, recut_seed=seed)
        sampler = GlobalBatchSampler(blocks, batch_size=4, seed=seed)
        sampler.set_epoch(1)
        draws = list(sampler)[:4]
        return torch.stack([row["input_ids"] for row in DrawnExamples(blocks, seed).__getitems__(draws)])

    assert not torch.equal(first_batch(0), first_batch(1))
