"""Small synthetic copies of the hub data sets the comparison names, in the hub's own layouts and schemas.

Each copy has the hub set's files at the paths the hub serves them (at the registry entry's revision: the
repository's own parquet files, or the hub's parquet conversion, `refs/convert/parquet`, for repositories
that only ship a loading script), its splits, columns and `datasets.Features` (ClassLabel names included,
GLUE's hidden test labels as -1), so that `datasets.load_dataset(<directory>)` infers the same splits and
features from them as `load_dataset(name, config, revision=...)` does from the hub. A copy lives at
<root>/<owner>/<name>/<config> (pretrain.data.sources.local_copy_dir) and holds the repository's paths below it.
A plan's `datasets_dir` points the registry's entries at them, so the real plan's data path (split
names, column mapping, label names) runs end to end on a machine without the hub: the dry run, and
tests. The texts are generated from a fixed seed; they exercise the pipeline, not a model.

    python -m pretrain.data.sample_copies runs/dry-run-datasets
"""

from __future__ import annotations

import random
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import datasets

from pretrain.data.sources import PARQUET_CONVERSION, local_copy_dir

CONLL_NER_TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
CONLL_POS_TAGS = ['"', "''", "#", "$", "(", ")", ",", ".", ":", "``", "CC", "CD", "DT", "EX", "FW", "IN", "JJ", "JJR",
                  "JJS", "LS", "MD", "NN", "NNP", "NNPS", "NNS", "NN|SYM", "PDT", "POS", "PRP", "PRP$", "RB", "RBR",
                  "RBS", "RP", "SYM", "TO", "UH", "VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "WDT", "WP", "WP$", "WRB"]
CONLL_CHUNK_TAGS = ["O", "B-ADJP", "I-ADJP", "B-ADVP", "I-ADVP", "B-CONJP", "I-CONJP", "B-INTJ", "I-INTJ", "B-LST",
                    "I-LST", "B-NP", "I-NP", "B-PP", "I-PP", "B-PRT", "I-PRT", "B-SBAR", "I-SBAR", "B-UCP", "I-UCP",
                    "B-VP", "I-VP"]
WNUT_TAGS = ["O", "B-corporation", "I-corporation", "B-creative-work", "I-creative-work", "B-group", "I-group",
             "B-location", "I-location", "B-person", "I-person", "B-product", "I-product"]

_WORDS = ("the river city museum council season album station company league team bridge valley forest "
          "island church school army film series game novel road castle village market harbour garden "
          "built opened played moved released won founded named described recorded followed became").split()
_NAMES = {"PER": ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"],
          "ORG": ["Acme Corp", "United Nations", "Royal Society"],
          "LOC": ["Paris", "New York", "Nile Valley", "Cape Town"],
          "MISC": ["English", "Olympic", "Nobel"]}
_SPLIT_SIZES = {"train": 1.0, "validation": 0.2, "test": 0.2}


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words)).capitalize() + " ."


def _wikitext(rng: random.Random, n: int) -> dict[str, list]:
    """WikiText raw: headings ' = Title = ', ' = = Section = = ', blank lines and paragraph lines, each a row;
    whole articles (the documents pretraining groups the rows into), at least three, so that a small split still
    has NSP negatives."""
    lines: list[str] = []
    articles = 0
    while len(lines) < n or articles < 3:
        lines += ["", f" = {rng.choice(_WORDS).capitalize()} {rng.choice(_WORDS)} = ", ""]
        for _ in range(rng.randint(2, 4)):
            lines += [" " + " ".join(_sentence(rng, rng.randint(8, 16)) for _ in range(rng.randint(3, 6))), ""]
        lines += [f" = = {rng.choice(_WORDS).capitalize()} = = ", ""]
        articles += 1
    return {"text": lines}


def _bookcorpus(rng: random.Random, n: int) -> dict[str, list]:
    return {"text": [_sentence(rng, rng.randint(6, 14)).lower() for _ in range(n)]}


_POSITIVE = ["a moving , funny and beautiful film", "warm and wonderful", "the best performance of the year",
             "smart , tender and a joy to watch", "an engaging and clever story"]
_NEGATIVE = ["a dull and tedious mess", "the plot is thin and the jokes fall flat", "boring , long and forgettable",
             "a waste of a fine cast", "clumsy , shallow and painfully slow"]


def _sst2(rng: random.Random, n: int, labelled: bool = True) -> dict[str, list]:
    labels = [rng.randint(0, 1) for _ in range(n)]
    sentences = [f"{rng.choice(_POSITIVE if y else _NEGATIVE)} {rng.choice(_WORDS)} " for y in labels]
    return {"sentence": sentences, "label": labels if labelled else [-1] * n, "idx": list(range(n))}


def _ner_sentence(rng: random.Random, tags: list[str]) -> tuple[list[str], list[int]]:
    tokens, ids = [], []
    for _ in range(rng.randint(4, 10)):
        if rng.random() < 0.3:
            kind = rng.choice(sorted(_NAMES))
            for i, word in enumerate(rng.choice(_NAMES[kind]).split()):
                tag = f"{'B' if i == 0 else 'I'}-{kind}"
                tokens.append(word)
                ids.append(tags.index(tag) if tag in tags else 0)
        else:
            tokens.append(rng.choice(_WORDS))
            ids.append(0)
    return tokens + ["."], ids + [0]


def _conll2003(rng: random.Random, n: int) -> dict[str, list]:
    rows: dict[str, list] = {"id": [], "tokens": [], "pos_tags": [], "chunk_tags": [], "ner_tags": []}
    for i in range(n):
        tokens, tags = _ner_sentence(rng, CONLL_NER_TAGS)
        rows["id"].append(str(i))
        rows["tokens"].append(tokens)
        rows["pos_tags"].append([CONLL_POS_TAGS.index("NNP") if t else CONLL_POS_TAGS.index("NN") for t in tags])
        rows["chunk_tags"].append([CONLL_CHUNK_TAGS.index("B-NP")] * len(tokens))
        rows["ner_tags"].append(tags)
    return rows


def _wnut17(rng: random.Random, n: int) -> dict[str, list]:
    rows: dict[str, list] = {"id": [], "tokens": [], "ner_tags": []}
    names = {"PER": "person", "ORG": "corporation", "LOC": "location", "MISC": "product"}
    for i in range(n):
        tokens, tags = _ner_sentence(rng, CONLL_NER_TAGS)
        rows["id"].append(str(i))
        rows["tokens"].append(tokens)
        rows["ner_tags"].append([0 if t == 0 else WNUT_TAGS.index(
            f"{CONLL_NER_TAGS[t][0]}-{names[CONLL_NER_TAGS[t][2:]]}") for t in tags])
    return rows


def _xsum(rng: random.Random, n: int) -> dict[str, list]:
    documents, summaries = [], []
    for _ in range(n):
        sentences = [_sentence(rng, rng.randint(8, 14)) for _ in range(rng.randint(3, 6))]
        documents.append("\n".join(sentences))
        summaries.append(sentences[0])
    return {"document": documents, "summary": summaries, "id": [str(30000000 + i) for i in range(n)]}


_STRINGS = datasets.Sequence(datasets.Value("string"))


def _tags(names: list[str]) -> datasets.Sequence:
    return datasets.Sequence(datasets.ClassLabel(names=names))


@dataclass(frozen=True)
class HubCopy:
    """What a hub repository serves for one configuration at one revision: each split's files (paths in the
    repository), their features, and how to generate rows for them."""

    features: datasets.Features
    generate: Callable[..., dict[str, list]]
    files: dict[str, tuple[str, ...]]  # split -> its files' paths in the repository at `revision`


def _native(config: str, shards: dict[str, int]) -> dict[str, tuple[str, ...]]:
    """push_to_hub's layout in the repository itself: <config>/<split>-<i>-of-<n>.parquet."""
    return {split: tuple(f"{config}/{split}-{i:05d}-of-{n:05d}.parquet" for i in range(n))
            for split, n in shards.items()}


def _converted(directory: str, shards: dict[str, int]) -> dict[str, tuple[str, ...]]:
    """The dataset viewer's parquet conversion (refs/convert/parquet): <config>/<split>/<i>.parquet."""
    return {split: tuple(f"{directory}/{split}/{i:04d}.parquet" for i in range(n)) for split, n in shards.items()}


_THREE = {"train": 1, "validation": 1, "test": 1}
_WIKITEXT = datasets.Features({"text": datasets.Value("string")})

# (hub name, config, revision) -> what it serves, as pretrain.compare.planning.datasets.REGISTRY names it; the
# shard counts are the hub's (WikiText-103's train is two files, BookCorpus's conversion ten), so a copy exercises
# multi-file splits too. Where each layout was seen is in the registry's comments.
SAMPLES: dict[tuple[str, str | None, str | None], HubCopy] = {
    ("Salesforce/wikitext", "wikitext-2-raw-v1", None): HubCopy(
        _WIKITEXT, _wikitext, _native("wikitext-2-raw-v1", _THREE)),
    ("Salesforce/wikitext", "wikitext-103-raw-v1", None): HubCopy(
        _WIKITEXT, _wikitext, _native("wikitext-103-raw-v1", {"train": 2, "validation": 1, "test": 1})),
    ("bookcorpus/bookcorpus", None, PARQUET_CONVERSION): HubCopy(
        datasets.Features({"text": datasets.Value("string")}), _bookcorpus, _converted("plain_text", {"train": 10})),
    ("nyu-mll/glue", "sst2", None): HubCopy(
        datasets.Features({"sentence": datasets.Value("string"),
                           "label": datasets.ClassLabel(names=["negative", "positive"]),
                           "idx": datasets.Value("int32")}),
        _sst2, _native("sst2", _THREE)),
    ("eriktks/conll2003", None, PARQUET_CONVERSION): HubCopy(
        datasets.Features({"id": datasets.Value("string"), "tokens": _STRINGS, "pos_tags": _tags(CONLL_POS_TAGS),
                           "chunk_tags": _tags(CONLL_CHUNK_TAGS), "ner_tags": _tags(CONLL_NER_TAGS)}),
        _conll2003, _converted("conll2003", _THREE)),
    ("leondz/wnut_17", None, PARQUET_CONVERSION): HubCopy(
        datasets.Features({"id": datasets.Value("string"), "tokens": _STRINGS, "ner_tags": _tags(WNUT_TAGS)}),
        _wnut17, _converted("wnut_17", _THREE)),
    ("EdinburghNLP/xsum", None, PARQUET_CONVERSION): HubCopy(
        datasets.Features({"document": datasets.Value("string"), "summary": datasets.Value("string"),
                           "id": datasets.Value("string")}),
        _xsum, _converted("default", _THREE)),
}


def write_sample_copies(root: str | Path, rows: int = 200, seed: int = 0) -> list[Path]:
    """Write every copy under `root` (train: `rows` rows, validation and test a fifth of that each, spread over
    the split's files); returns their directories. Existing copies are rewritten."""
    written = []
    for (name, config, _revision), copy in SAMPLES.items():
        folder = local_copy_dir(root, name, config)
        shutil.rmtree(folder, ignore_errors=True)  # files of an older layout would be read as more splits
        for split, paths in copy.files.items():
            rng = random.Random(f"{seed}-{name}-{config}-{split}")
            size = max(4 * len(paths), int(rows * _SPLIT_SIZES[split]))
            hidden = copy.generate is _sst2 and split == "test"  # GLUE's test labels are hidden: -1
            columns = copy.generate(rng, size, False) if hidden else copy.generate(rng, size)
            table = datasets.Dataset.from_dict(columns, features=copy.features)
            for shard, path in enumerate(paths):  # the hub's file names, from which load_dataset infers the split
                (folder / path).parent.mkdir(parents=True, exist_ok=True)
                table.shard(len(paths), shard, contiguous=True).to_parquet(str(folder / path))
        written.append(folder)
    return written


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python -m pretrain.data.sample_copies DIRECTORY [ROWS]")
    for path in write_sample_copies(sys.argv[1], *(int(a) for a in sys.argv[2:])):
        print(path)
