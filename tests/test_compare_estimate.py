"""The plan estimator: runs, tokens and FLOPs from the suite's own counts, time and GPU-hours from Lightning's peak
table, memory per device, the refusal of a plan that cannot fit, and the command's --estimate / --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lightning.fabric.utilities.throughput import _CUDA_FLOPS

from pretrain.compare.command import main
from pretrain.compare.planning.estimate import accelerator, check_fits, estimate, measure_cpu
from pretrain.compare.planning.plan import parse_plan, validate
from pretrain.compare.running.pipeline import baseline_runs, count_runs, preset_facts, pretrain_steps

REPO = Path(__file__).resolve().parents[1]
REAL = ["--config", str(REPO / "configs/compare/real.yaml")]
DRY_RUN = [*REAL, "--config", str(REPO / "configs/compare/dry-run.yaml"), "--datasets_dir", "null"]


def _resolved(args: list[str]):
    return validate(parse_plan(args), REPO, check_data=False)


def test_counts_are_the_pipelines_and_flops_are_the_suites_count() -> None:
    resolved = _resolved(REAL)
    result = estimate(resolved, accelerator("h100", 8, 0.3), REPO)
    p = resolved.plan.pretrain
    # The estimate's runs plus the runs with no model (baselines, references) are the plan's.
    assert result.total.runs + baseline_runs(resolved.plan.finetune.tasks) == count_runs(resolved)
    pre = result.stages[0]
    steps, facts = pretrain_steps(resolved), preset_facts(resolved)
    # ddp.yaml uses every device and batch_size is per process: 8x the tokens of one process.
    expected = {f: steps[f] * p.tokens_per_step * 8 * len(p.seeds) for f in ("bert", "gpt")}
    assert pre.tokens == sum(expected.values())
    assert pre.train_flops == pytest.approx(sum(expected[f] * facts[f]["flops_per_token"] for f in expected))
    assert any("count one process: on 8 devices each run trains 8,000 steps of 256 x 512 = 1,048,576,000 tokens" in n
               and "divide both by 8" in n for n in result.notes)
    # Time: FLOPs at 8 x peak x MFU, plus a third of that per validated token; GPU-hours hold all 8 devices.
    peak = _CUDA_FLOPS["h100 sxm"][__import__("torch").bfloat16]
    assert pre.wall_s >= pre.train_flops / 2 / (8 * peak * 0.3)  # two families' runs, one at a time
    assert pre.gpu_hours == pytest.approx(pre.wall_s / 3600 * 8)
    assert result.total.gpu_hours == pytest.approx(sum(s.gpu_hours for s in result.stages))


def test_memory_grows_with_the_batch_and_checkpointing_saves_activations() -> None:
    small, large = (estimate(_resolved([*REAL, "--pretrain.batch_size", str(b)]), accelerator("h100", 8, 0.3), REPO)
                    for b in (16, 32))
    for a, b in zip(small.memory, large.memory, strict=True):
        assert b.activations_gib == pytest.approx(2 * a.activations_gib)
        assert b.weights_gib == a.weights_gib == pytest.approx(4 * a.params / 2**30)
        assert b.adamw_gib == pytest.approx(2 * b.weights_gib)
        assert a.activations_checkpointed_gib < a.activations_gib and a.fits


def test_a_plan_that_cannot_fit_is_refused_naming_the_setting() -> None:
    resolved = _resolved([*REAL, "--pretrain.batch_size", "256"])
    result = estimate(resolved, accelerator("l4", 8, 0.3), REPO)  # 24 GB
    assert [m.fits for m in result.memory] == [False, False]
    with pytest.raises(ValueError, match=r"^pretrain.batch_size=256: bert needs .* GiB per device .*; set "
                                         r"pretrain.batch_size to at most \d+, or turn on activation checkpointing"):
        check_fits(result, resolved)
    fits = estimate(resolved, accelerator("l4", 8, 0.3, memory_gib=1000.0), REPO)
    check_fits(fits, resolved)


def test_unknown_accelerator_names_the_flag() -> None:
    with pytest.raises(ValueError, match=r"--gpu 'tpu' is not known; choose one of h200, h100"):
        accelerator("tpu", 8, 0.3)


def test_the_command_prints_and_writes_the_estimate_without_training(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    out = tmp_path / "estimate.json"
    assert main([*REAL, "--estimate", "--gpu", "h100", "--gpus", "8", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    written = json.loads(out.read_text())
    assert "GPU-hours" in printed and "memory per device" in printed
    assert written["total"]["gpu_hours"] > 0 and [m["family"] for m in written["memory"]] == ["bert", "gpt"]
    assert f"{written['total']['gpu_hours']:,.1f}" in printed
    assert main([*REAL, "--pretrain.batch_size", "256", "--estimate", "--gpu", "l4"]) == 2
    assert "pretrain.batch_size=256" in capsys.readouterr().err
    assert not (REPO / "runs" / "real").exists() or not any((REPO / "runs" / "real").iterdir())


def test_on_a_cpu_the_rate_is_measured_from_timed_steps() -> None:
    resolved = _resolved(DRY_RUN)  # tiny presets: a few steps take milliseconds
    device = measure_cpu(resolved, REPO, steps=2)
    assert set(device.measured_flops) == {"bert", "gpt"} and all(v > 0 for v in device.measured_flops.values())
    result = estimate(resolved, device, REPO)
    assert result.total.gpu_hours is None and all(s.wall_s >= 0 for s in result.stages)
    assert result.memory[0].fits is None  # a CPU's memory is not in the table


def test_a_plan_with_fsdp_is_refused_before_training(tmp_path: Path) -> None:
    fsdp = tmp_path / "fsdp.yaml"
    fsdp.write_text("trainer:\n  strategy:\n    class_path: lightning.pytorch.strategies.FSDPStrategy\n")
    with pytest.raises(ValueError, match=r"^pretrain.trainer .*trainer.strategy='FSDPStrategy' is refused: "):
        _resolved([*REAL, "--pretrain.trainer", str(fsdp)])
    cpu = estimate(_resolved([*DRY_RUN, "--pretrain.trainer", "configs/trainer/cpu.yaml"]),
                   accelerator("h100", 1, 0.3), REPO)  # `strategy: auto`, a string
    assert cpu.memory[0].weights_gib > 0


def test_a_cpu_ddp_trainer_counts_its_processes() -> None:
    resolved = _resolved(DRY_RUN)  # configs/trainer/cpu-ddp.yaml: 2 processes
    device = measure_cpu(resolved, REPO, steps=1, warmup=1)
    result = estimate(resolved, device, REPO)
    p = resolved.plan.pretrain
    assert result.stages[0].tokens == 2 * p.max_steps * p.tokens_per_step * 2 * len(p.seeds)  # 2 families x 2 ranks


def test_estimate_options_without_estimate_are_refused_before_the_plan_is_read(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import pretrain.compare.command as command

    def no_plan(args: list[str]) -> None:
        raise AssertionError(f"the plan was read to be run: {args}")

    monkeypatch.setattr(command, "parse_plan", no_plan)
    assert main([*REAL, "--gpu", "h100", "--gpus=8"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--gpu, --gpus are options of the cost estimate; add --estimate" in err


def test_help_lists_the_estimate_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and "--pretrain.tokens" in out
    for option in ("--estimate", "--gpu ", "--gpus", "--mfu", "--gpu-memory-gib", "--json"):
        assert option in out


def test_the_real_plan_fans_fine_tuning_out_over_every_gpu_within_three_hours() -> None:
    result = estimate(_resolved(REAL), accelerator("h100", 8, 0.3), REPO)
    stages = {s.stage: s for s in result.stages}
    serial = estimate(_resolved([*REAL, "--device_slots", "null"]), accelerator("h100", 8, 0.3), REPO)
    one_at_a_time = {s.stage: s for s in serial.stages}
    assert stages["pretrain"].wall_s == one_at_a_time["pretrain"].wall_s  # DDP over the node, one run at a time
    assert stages["seeds"].wall_s == pytest.approx(one_at_a_time["seeds"].wall_s / 8)  # 8 runs at a time
    assert result.total.wall_s <= 3 * 3600 < serial.total.wall_s
    assert any("8 at a time, one per device" in note for note in result.notes)


def test_device_slots_need_subprocess_runs() -> None:
    with pytest.raises(ValueError, match=r"^device_slots='auto' needs subprocess_runs: true"):
        _resolved([*REAL, "--subprocess_runs", "false"])


def test_an_arm_sharing_anothers_pretraining_costs_no_pretraining() -> None:
    default = ["--config", str(REPO / "configs/compare/default.yaml")]
    both = estimate(_resolved([*default, "--arms", '["bert", "gpt", "gpt-bi"]']), accelerator("h100", 1, 0.3), REPO)
    alone = estimate(_resolved([*default, "--arms", '["bert", "gpt"]']), accelerator("h100", 1, 0.3), REPO)
    pretraining = {r.stage: r for r in both.stages}["pretrain"], {r.stage: r for r in alone.stages}["pretrain"]
    assert pretraining[0].runs == 3 and pretraining[0].train_flops == pretraining[1].train_flops  # gpt-bi: gpt's runs
