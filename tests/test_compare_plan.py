import shutil
from pathlib import Path

import pytest

from pretrain.compare.planning.plan import (
    ComparePlan,
    FinetunePlan,
    PretrainPlan,
    WandbPlan,
    parse_plan,
    plan_parser,
    validate,
)
from pretrain.data.sources import DataSource

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "configs/model", tmp_path / "configs/model")
    (tmp_path / "configs/trainer").mkdir(parents=True)
    (tmp_path / "configs/trainer/cpu.yaml").write_text("trainer:\n  accelerator: cpu\n")
    (tmp_path / "configs/pretrain").mkdir(parents=True)
    for family in ("bert", "gpt"):
        (tmp_path / f"configs/pretrain/{family}.yaml").write_text("seed_everything: 0\n")
    (tmp_path / "configs/finetune").mkdir(parents=True)
    for task in ("classification", "ner", "generation"):
        (tmp_path / f"configs/finetune/{task}.yaml").write_text("seed_everything: 0\n")
    return tmp_path


def test_default_plan_resolves(root: Path) -> None:
    resolved = validate(ComparePlan(), root)
    assert resolved.model_presets["bert"] == root / "configs/model/bert-micro.yaml"
    assert resolved.pretrain_data.is_builtin
    assert set(resolved.task_data) == {"classification", "ner", "generation"}


def test_yaml_and_overrides(tmp_path: Path) -> None:
    config = tmp_path / "plan.yaml"
    config.write_text("experiment: mini\npretrain:\n  tokens: 8192\n  probes: 2\nfinetune:\n  tasks: [ner]\n")
    plan = parse_plan(["--config", str(config), "--pretrain.seq_len", "32"])
    assert (plan.experiment, plan.pretrain.tokens, plan.pretrain.seq_len, plan.finetune.tasks) == (
        "mini", 8192, 32, ["ner"])
    assert plan.pretrain.max_steps == 8192 // (32 * 32)
    assert plan.pretrain.probe_steps() == [4, 8]


def test_unknown_yaml_key_names_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "plan.yaml"
    config.write_text("pretrain:\n  tokenz: 5\n")
    with pytest.raises(ValueError, match=r"plan\.yaml.*tokenz"):
        parse_plan(["--config", str(config)])


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (ComparePlan(finetune=FinetunePlan(tasks=["ner", "qa"])),
         r"unknown task 'qa'.*classification, ner, generation"),
        (ComparePlan(bert_model="bert-huge"),
         r"bert_model='bert-huge'.*bert-base, bert-base-matched, bert-ettin-150m, bert-ettin-17m, bert-ettin-1b, "
         r"bert-ettin-32m, bert-ettin-400m, bert-ettin-68m, bert-micro, bert-micro-narrow, bert-micro-preln, "
         r"bert-mini"),
        (ComparePlan(gpt_model="gpt-huge"),
         r"gpt-micro, gpt-micro-narrow, gpt-micro-preln, gpt-mini, gpt-mini-matched, gpt-small"),
        (ComparePlan(bert_model="bert-mini", gpt_model="gpt-mini"),
         r"architecture='matched' but the presets differ in activation: bert='gelu' gpt='gelu_tanh'.*embedding_norm"),
        (ComparePlan(architecture="hybrid"), r"architecture='hybrid'; choose one of matched, classic"),
        (ComparePlan(pretrain=PretrainPlan(match="steps")),
         r"pretrain.match='steps'; choose one of tokens, real_tokens, flops"),
        (ComparePlan(pretrain=PretrainPlan(tokens=32 * 128 * 5, warmup_steps=10)), r"warmup_steps=10 must be less"),
        (ComparePlan(pretrain=PretrainPlan(seeds=[])), r"pretrain.seeds"),
        (ComparePlan(finetune=FinetunePlan(lrs=[1e-3, 1e-3])), r"finetune.lrs"),
        (ComparePlan(finetune=FinetunePlan(controls=4)), r"finetune.controls=4"),
        (ComparePlan(parallel_runs=0), r"parallel_runs=0"),
        (ComparePlan(pretrain=PretrainPlan(data="wikitext-104")), r"pretrain.data='wikitext-104'.*wikitext-103"),
        (ComparePlan(finetune=FinetunePlan(ner_data="conll2004")), r"finetune.ner_data='conll2004'.*conll2003"),
        (ComparePlan(finetune=FinetunePlan(generation_data="data/missing.jsonl")), r"no local file matches"),
        (ComparePlan(pretrain=PretrainPlan(tokens=10)), r"less than one step"),
        (ComparePlan(finetune=FinetunePlan(seeds=[1, 1])), r"distinct"),
        (ComparePlan(wandb=WandbPlan(mode="cloud")), r"wandb.mode"),
        (ComparePlan(finetune=FinetunePlan(max_target_length=125)), r"max_target_length=125.*max_positions=128"),
        (ComparePlan(finetune=FinetunePlan(task_steps={"qa": 10})), r"task_steps names 'qa'"),
        (ComparePlan(finetune=FinetunePlan(task_steps={"ner": 0})), r"task_steps.ner"),
        (ComparePlan(finetune=FinetunePlan(max_steps=100, val_check_interval=50, task_steps={"generation": 120})),
         r"generation runs 120 steps, not a multiple of val_check_interval=50"),
        (ComparePlan(finetune=FinetunePlan(pretraining_spread={"qa": 0.01})), r"pretraining_spread.qa=0.01"),
        (ComparePlan(finetune=FinetunePlan(pretraining_spread={"ner": 0.0})), r"pretraining_spread.ner=0.0: .* > 0"),
        (ComparePlan(finetune=FinetunePlan(classification_pooling="cls")),
         r"finetune.classification_pooling='cls'; choose one of native, mean"),
    ],
)
def test_bad_plans_fail_before_training(root: Path, plan: ComparePlan, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate(plan, root)


def test_local_files_are_accepted(root: Path) -> None:
    (root / "data").mkdir()
    for split in ("train", "dev", "test"):
        (root / f"data/{split}.jsonl").write_text('{"source": "a", "target": "b"}\n')
    data = DataSource("data/tr*.jsonl", splits={"validation": "data/dev.jsonl", "test": "data/test.jsonl"})
    resolved = validate(ComparePlan(finetune=FinetunePlan(generation_data=data)), root)
    assert resolved.task_data["generation"].name == str(root / "data/tr*.jsonl")
    assert resolved.task_data["generation"].splits["test"] == str(root / "data/test.jsonl")
    with pytest.raises(ValueError, match=r"finetune.generation_data: .*no 'validation' file"):
        validate(ComparePlan(finetune=FinetunePlan(generation_data="data/train.jsonl")), root)


def test_generation_source_and_target_fit_the_smaller_model(root: Path) -> None:
    """Both families read source + target in one sequence of positions: the plan cuts the source alike."""
    from pretrain.compare.running.runs import finetune_args

    resolved = validate(ComparePlan(finetune=FinetunePlan(max_length=128, max_target_length=32)), root)
    for family in ("bert", "gpt"):
        args = finetune_args(resolved, family, "generation", Path("x.ckpt"), 0, 1e-3, False, Path("run"),
                             Path("r.json"))
        source = int(args[args.index("--data.init_args.max_length") + 1])
        target = int(args[args.index("--data.init_args.max_target_length") + 1])
        decoded = int(args[args.index("--model.init_args.max_new_tokens") + 1])
        assert (source, target, decoded) == (128 - 32 - 1, 32, 32)  # decoding is bounded by the plan, not the config
        args = finetune_args(resolved, family, "ner", Path("x.ckpt"), 0, 1e-3, True, Path("run"), Path("r.json"))
        assert int(args[args.index("--data.init_args.max_length") + 1]) == 128


def test_classic_mode_accepts_different_layouts_and_matched_presets_agree(root: Path) -> None:
    from pretrain.compare.planning.plan import FAMILY_ONLY_FIELDS, block_settings

    validate(ComparePlan(architecture="classic", bert_model="bert-mini", gpt_model="gpt-mini"), root)
    for size in ("micro", "micro-narrow", "tiny-matched", "mini-matched", "base-matched", "micro-preln"):
        bert, gpt = (block_settings(root / f"configs/model/{f}-{size}.yaml") for f in ("bert", "gpt"))
        differing = {k for k in bert if bert[k] != gpt[k]}
        # ModernBERT's layout: the two bodies are identical; the former layout gave BERT segment embeddings.
        assert differing == (set(FAMILY_ONLY_FIELDS) if size == "micro-preln" else set()), (size, differing)


def test_per_task_steps_the_classification_readout_and_length_grouping_reach_the_runs(root: Path) -> None:
    """task_steps gives one task more steps (both families alike); the matched mode reads classification by
    mean pooling in both families, the classic mode by each family's own readout, unless the plan says."""
    from pretrain.compare.running.runs import finetune_args

    def option(plan: ComparePlan, task: str, name: str) -> str:
        args = finetune_args(validate(plan, root), "bert", task, Path("x.ckpt"), 0, 1e-3, False, Path("run"),
                             Path("r.json"))
        return args[args.index(name) + 1]

    steps = ComparePlan(finetune=FinetunePlan(max_steps=100, val_check_interval=50, task_steps={"generation": 200}))
    assert option(steps, "generation", "--trainer.max_steps") == "200"
    assert option(steps, "ner", "--trainer.max_steps") == "100"
    assert option(ComparePlan(), "classification", "--model.init_args.pooling") == "mean"
    classic = ComparePlan(architecture="classic", bert_model="bert-mini", gpt_model="gpt-mini")
    assert option(classic, "classification", "--model.init_args.pooling") == "native"
    chosen = ComparePlan(finetune=FinetunePlan(classification_pooling="native"))
    assert option(chosen, "classification", "--model.init_args.pooling") == "native"
    assert validate(ComparePlan(), root).plan.finetune.classification_pooling == "mean"  # recorded as resolved
    assert option(ComparePlan(), "ner", "--data.init_args.group_by_length") == "true"
    ungrouped = ComparePlan(finetune=FinetunePlan(group_by_length=False))
    assert option(ungrouped, "ner", "--data.init_args.group_by_length") == "false"


def test_help_describes_every_option_and_lists_choices(capsys: pytest.CaptureFixture[str]) -> None:
    """`scripts/compare.py --help`: each group titled by a sentence (not a dataclass repr), each option
    described, and the fields with a fixed set of values show them."""
    with pytest.raises(SystemExit):
        parse_plan(["--help"])
    text = capsys.readouterr().out
    assert "ComparePlan(" not in text and "PretrainPlan(" not in text and "WandbPlan(" not in text
    flat = " ".join(text.split())  # argparse wraps lines
    for choices in ("--architecture {matched,classic}", "--pretrain.match {tokens,real_tokens,flops}",
                    "--wandb.mode {offline,online,disabled}", "Optional[Literal['native', 'mean']], default: null"):
        assert choices in flat, choices
    undescribed = [action.dest for action in plan_parser()._actions if action.option_strings and not action.help]
    assert not undescribed, undescribed
    for described in ("W&B group and the report folder name", "training tokens each family sees",
                      "the learning-rate grid"):
        assert described.lower() in flat.lower(), described


@pytest.mark.parametrize(("args", "message"), [
    (["--architecture", "hybrid"], r"^--architecture hybrid: expected one of matched, classic$"),
    (["--pretrain.match", "steps"], r"^--pretrain.match steps: expected one of tokens, real_tokens, flops$"),
    (["--wandb.mode", "cloud"], r"^--wandb.mode cloud: expected one of offline, online, disabled$"),
])
def test_a_value_outside_the_choices_is_one_line_naming_field_and_choices(args: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message) as error:
        parse_plan(args)
    assert "\n" not in str(error.value)


def test_an_overlay_plan_alone_is_refused_naming_the_plan_to_put_first() -> None:
    from pretrain.compare.planning.plan import overlay_base

    overlays = {path.name: overlay_base(path) for path in sorted((REPO / "configs/compare").glob("*.yaml"))}
    assert overlays["arms.yaml"] == overlays["quick.yaml"] == "configs/compare/default.yaml"
    assert overlays["dry-run.yaml"] == "configs/compare/real.yaml" and overlays["default.yaml"] is None
    for name, base in overlays.items():
        if base is None:
            continue
        overlay = str(REPO / "configs/compare" / name)
        with pytest.raises(ValueError) as error:
            parse_plan(["--config", overlay, "--experiment", "x"])
        assert str(error.value) == f"{overlay} is an overlay on {base}, which must come first: --config {base} " \
                                   f"--config {overlay}"
        parse_plan(["--config", str(REPO / base), f"--config={overlay}"])  # after its base, wherever it lies


def test_any_plan_whose_first_comment_says_overlay_is_one(tmp_path: Path) -> None:
    new = tmp_path / "seeds.yaml"
    new.write_text("# Overlay on configs/compare/default.yaml: more seeds.\n# More.\npretrain:\n  seeds: [0, 1]\n")
    with pytest.raises(ValueError, match="seeds.yaml is an overlay on configs/compare/default.yaml, which must come"):
        parse_plan(["--config", str(new)])
    assert parse_plan(["--config", str(REPO / "configs/compare/default.yaml"), "--config", str(new)]).pretrain.seeds \
        == [0, 1]


@pytest.mark.parametrize(("option", "message"), [
    (["--finetune.decoder_attention", "sideways"],
     "--finetune.decoder_attention sideways: expected one of causal, bidirectional or null"),
    (["--pretrain.causal_share", "{clm-mlm: abc}"], "--pretrain.causal_share {clm-mlm: abc}: expected a mapping "
                                                    "{string: number}"),
    (["--pretrain.tokens=many"], "--pretrain.tokens many: expected an integer"),
])
def test_a_bad_command_line_value_is_blamed_on_the_command_line(option: list[str], message: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_plan(["--config", str(REPO / "configs/compare/default.yaml"), *option])
    assert str(error.value) == message


def test_a_bad_value_in_a_plan_file_is_blamed_on_the_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("finetune:\n  decoder_attention: sideways\n")
    with pytest.raises(ValueError) as error:
        parse_plan(["--config", str(bad)])
    assert str(error.value) == f"{bad}: finetune.decoder_attention: expected one of causal, bidirectional or null; " \
                               "got sideways"
