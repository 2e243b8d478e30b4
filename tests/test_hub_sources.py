"""Hub data sources without network: the real plan's registry entries resolve to local copies in the
hub's schemas, load with the splits and columns each stage reads, and a wrong split or column fails
plan validation in one line; online, the same entries go through load_dataset(name, config)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import datasets
import pytest

from pretrain.compare.planning.datasets import REGISTRY, resolve
from pretrain.compare.planning.plan import ComparePlan, FinetunePlan, PretrainPlan, parse_plan, validate
from pretrain.compare.planning.source_check import check_source
from pretrain.data.sources import DataSource, load_corpus, load_hub_split
from tasks.registry import task_record

pytestmark = pytest.mark.usefixtures("private_datasets_cache")  # conftest.py

REPO = Path(__file__).resolve().parents[1]
EXPECTED_TASK_COLUMNS = {"classification": {"text", "label"}, "ner": {"tokens", "ner_tags"},
                         "generation": {"source", "target"}}


def _hub_entries() -> list[tuple[str, str]]:
    return [(stage, key) for stage, entries in REGISTRY.items() for key, source in entries.items()
            if not source.is_builtin]


@pytest.mark.parametrize(("stage", "key"), _hub_entries())
def test_every_registry_entry_loads_from_its_copy(hub_copies: Path, tmp_path: Path, stage: str, key: str) -> None:
    source = resolve(stage, key, field="x", root=REPO, datasets_dir=str(hub_copies))
    assert source.local_copy is not None and (source.name, source.config) == (REGISTRY[stage][key].name,
                                                                               REGISTRY[stage][key].config)
    check_source(stage, source, "x")
    if stage == "pretrain":
        assert source.documents in ("wikitext", "lines:256")  # rows grouped into documents (articles, runs of lines)
        if source.documents.startswith("lines:"):  # the copy's few dozen lines make too few runs to hold 5% out
            source = replace(source, documents=None)
        corpus = load_corpus(source, cache_dir=tmp_path / "cache")
        columns = ["text", "document"] if source.documents else ["text"]
        assert all(corpus[s].column_names == columns and len(corpus[s]) > 0 for s in ("train", "validation", "test"))
        assert not any(t.strip() == "" for t in corpus["train"]["text"]), "blank wikitext lines are dropped"
        return
    module = task_record(stage).data(source)
    module.prepare_labels()
    for split in ("train", "validation", "test"):
        rows = module.rows(split)
        assert rows and EXPECTED_TASK_COLUMNS[stage] <= set(rows[0].values)


def test_class_label_names_and_glue_test_split_reach_the_task(hub_copies: Path) -> None:
    sst2 = resolve("classification", "sst2", field="x", root=REPO, datasets_dir=str(hub_copies))
    module = task_record("classification").data(sst2)
    module.prepare_labels()
    assert module.label_names == ["negative", "positive"]
    # GLUE's test labels are hidden (-1): the registry tests on its validation split, which is labelled.
    hub_test = load_hub_split(DataSource(sst2.name, local_copy=sst2.local_copy), "test")
    assert set(hub_test["label"]) == {-1}
    assert {module.label_text(r) for r in module.rows("test")} <= {"negative", "positive"}
    conll = resolve("ner", "conll2003", field="x", root=REPO, datasets_dir=str(hub_copies))
    ner = task_record("ner").data(conll)
    ner.prepare_labels()
    assert ner.label_names == ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


def test_real_plan_validates_against_the_copies(hub_copies: Path) -> None:
    plan = parse_plan(["--config", str(REPO / "configs/compare/real.yaml"), "--datasets_dir", str(hub_copies)])
    resolved = validate(plan, REPO)
    assert resolved.task_data["generation"].column("source") == "document"
    assert all(s.local_copy for s in (resolved.pretrain_data, *resolved.task_data.values()))


@pytest.mark.parametrize(
    ("finetune", "message"),
    [
        (FinetunePlan(tasks=["generation"], generation_data=DataSource("EdinburghNLP/xsum")),
         r"finetune.generation_data: data source EdinburghNLP/xsum.*no column 'source'"),
        (FinetunePlan(tasks=["classification"], classification_data=DataSource(
            "nyu-mll/glue", "sst2", splits={"validation": "dev"}, columns={"text": "sentence"})),
         r"finetune.classification_data: .*no split 'dev' for the validation split"),
    ],
)
def test_a_wrong_split_or_column_fails_validation_naming_field_source_and_column(
        hub_copies: Path, finetune: FinetunePlan, message: str) -> None:
    for field in ("classification_data", "generation_data"):
        value = getattr(finetune, field)
        if isinstance(value, DataSource):
            from pretrain.data.sources import local_copy_dir

            setattr(finetune, field, DataSource(value.name, value.config, value.splits, value.columns,
                                                str(local_copy_dir(hub_copies, value.name, value.config))))
    with pytest.raises(ValueError, match=message):
        validate(ComparePlan(finetune=finetune), REPO)


def test_a_missing_copy_names_the_expected_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"pretrain.data='wikitext-103': datasets_dir=.* has no copy of "
                                         r"Salesforce/wikitext \(wikitext-103-raw-v1\)"):
        validate(ComparePlan(pretrain=PretrainPlan(data="wikitext-103"), datasets_dir=str(tmp_path)), REPO)


def test_without_a_copy_the_hub_path_is_load_dataset_name_config(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_load_dataset(path: str, name: str | None = None, **kwargs: object) -> datasets.Dataset:
        calls.append((path, name, kwargs.get("split")))
        return datasets.Dataset.from_dict({"sentence": ["good"], "label": [1], "idx": [0]})

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    module = task_record("classification").data(REGISTRY["classification"]["sst2"])
    rows = module.rows("test")
    assert calls == [("nyu-mll/glue", "sst2", "validation")]
    assert rows[0].values["text"] == "good"  # the column mapping applied


def test_the_short_form_and_the_whole_description_cross_the_cli_alike(tmp_path: Path) -> None:
    from jsonargparse import ArgumentParser

    from tasks.classification.data import ClassificationDataModule

    parser = ArgumentParser()
    parser.add_class_arguments(ClassificationDataModule, "data")
    sst2 = REGISTRY["classification"]["sst2"]
    for value, expected in ((sst2.cli_value(), sst2), ("data/train.tsv", DataSource("data/train.tsv"))):
        module = parser.instantiate(parser.parse_args(["--data.source", value])).data
        assert DataSource.of(module.source) == expected
    assert DataSource("x.tsv").kind == "files" and DataSource("owner/name").kind == "hub"
    assert DataSource("builtin").kind == "builtin" and DataSource("data/*.txt").kind == "files"


# Repositories whose main branch ships only a loading script (the .py file named), which datasets >= 4 refuses:
# the registry must read them at the hub's parquet conversion. Evidence in pretrain/compare/planning/datasets.py.
SCRIPT_REPOSITORIES = {"eriktks/conll2003": "conll2003.py", "leondz/wnut_17": "wnut_17.py",
                       "EdinburghNLP/xsum": "xsum.py", "bookcorpus/bookcorpus": "bookcorpus.py"}
_CONVERTED_FILE = r"[^/]+/{split}/\d{{4}}\.parquet"  # refs/convert/parquet: <config>/<split>/NNNN.parquet
_NATIVE_FILE = r"{config}/{split}-\d{{5}}-of-\d{{5}}\.parquet"  # push_to_hub: <config>/<split>-i-of-n.parquet


@pytest.mark.parametrize(("stage", "key"), _hub_entries())
def test_every_registry_entry_reads_parquet_files_at_its_revision_as_its_copy_lays_them_out(
        hub_copies: Path, stage: str, key: str) -> None:
    import re

    from pretrain.data.sample_copies import SAMPLES
    from pretrain.data.sources import PARQUET_CONVERSION, hub_split_names, local_copy_dir

    entry = REGISTRY[stage][key]
    assert (entry.name, entry.config, entry.revision) in SAMPLES, f"{key}: no sample copy of this name/config/revision"
    copy = SAMPLES[(entry.name, entry.config, entry.revision)]
    if entry.name in SCRIPT_REPOSITORIES:
        assert entry.revision == PARQUET_CONVERSION, f"{key}: {entry.name} only has a loading script on main"
    pattern = _CONVERTED_FILE if entry.revision == PARQUET_CONVERSION else _NATIVE_FILE
    folder = local_copy_dir(hub_copies, entry.name, entry.config)
    on_disk = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.parquet"))
    assert on_disk == sorted(f for files in copy.files.values() for f in files)
    for split, files in copy.files.items():
        assert all(re.fullmatch(pattern.format(split=split, config=entry.config), f) for f in files), files
    # load_dataset infers from the file paths the same splits the entry's splits read.
    splits = hub_split_names(replace(entry, local_copy=str(folder)))
    assert sorted(splits) == sorted(copy.files)
    assert all(entry.hub_split(s).split("[")[0] in splits for s in entry.splits or ("train",))
    features = load_hub_split(replace(entry, local_copy=str(folder)), "train").features
    assert features == copy.features  # ClassLabel names included


def test_the_revision_reaches_load_dataset_and_the_plan_check(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, object]] = []

    def fake_split_names(path: str, name: str | None = None, **kwargs: object) -> list[str]:
        calls.append(("split_names", kwargs.get("revision")))
        return ["train", "validation", "test"]

    def fake_load_dataset(path: str, name: str | None = None, **kwargs: object) -> datasets.Dataset:
        calls.append(("load_dataset", kwargs.get("revision")))
        return datasets.Dataset.from_dict({"id": ["0"], "tokens": [["a"]], "ner_tags": [[0]]})

    monkeypatch.setattr(datasets, "get_dataset_split_names", fake_split_names)
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    monkeypatch.setattr(datasets, "load_dataset_builder", lambda *a, **k: calls.append(("builder", k.get("revision")))
                        or type("B", (), {"info": datasets.DatasetInfo()})())
    check_source("ner", REGISTRY["ner"]["conll2003"], "finetune.ner_data")
    task_record("ner").data(REGISTRY["ner"]["conll2003"]).rows("train")
    assert calls and all(revision == "refs/convert/parquet" for _, revision in calls)
    assert {kind for kind, _ in calls} == {"split_names", "builder", "load_dataset"}


def test_a_source_only_a_loading_script_builds_is_refused_in_one_line_naming_field_repository_and_fix(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def refuse(*args: object, **kwargs: object) -> list[str]:  # what datasets 5.2 raises for a script repository
        raise RuntimeError("Dataset scripts are no longer supported, but found conll2003.py")

    monkeypatch.setattr(datasets, "get_dataset_split_names", refuse)
    with pytest.raises(ValueError) as caught:
        check_source("ner", DataSource("eriktks/conll2003"), "finetune.ner_data")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("finetune.ner_data: hub repository eriktks/conll2003")
    assert "conll2003.py" in message and "revision: refs/convert/parquet" in message
    copy = tmp_path / "conll2003"
    copy.mkdir()
    (copy / "conll2003.py").write_text("# a builder\n")
    with pytest.raises(ValueError, match=r"^finetune.ner_data: local copy .*conll2003 only has a loading script "
                                         r"\(conll2003.py\).*revision: refs/convert/parquet"):
        check_source("ner", DataSource("eriktks/conll2003", local_copy=str(copy)), "finetune.ner_data")
