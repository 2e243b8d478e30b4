"""The built-in corpus's second half: docstrings of the suite's own pinned dependencies.

The standard library alone holds about 0.2M words of pretraining prose, so a default plan of 6M tokens
would read it 18 times over. Real pretraining runs near one epoch, and repetition bears on the very
question the suite asks: masked objectives keep gaining over many epochs where causal LM's returns fade
(Muennighoff et al. 2023, arXiv:2305.16264; Prabhudesai et al. 2025, arXiv:2507.15857). The packages
every user of the suite already has installed (torch, transformers, scipy, pandas, scikit-learn, numpy,
matplotlib, ...; pinned in constraints.txt, so the text is the same on every machine) hold ~18x more
prose of the same kind.

Their sources are parsed with ``ast`` and never imported, as the standard library's are
(``builtin_corpus``). Paragraphs are deduplicated across the whole corpus (numpy, scipy and pandas
repeat parameter descriptions across hundreds of functions; any paragraph the standard library already
has is dropped too, so no fine-tuning evaluation text reaches pretraining through a dependency that
quotes it). Dependency documents never enter a fine-tuning task (those are derived from the standard
library alone); they are split by the same hash buckets as pretraining: validation and test take the
pretraining buckets, train everything else.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import sys
from collections.abc import Container, Iterable
from pathlib import Path
from typing import Literal, get_args

import datasets
from lightning.pytorch.utilities import rank_zero_info

from pretrain.data.builtin_corpus import (
    CORPUS_VERSION,
    PRETRAIN_BUCKETS,
    Document,
    builtin_documents,
    cached_documents,
    group_by_module,
    parse_stdlib,
    python_tag,
    select_buckets,
    stdlib_root,
)
from pretrain.data.caching import resolve_cache_dir, stable_hash

# Top-level import names, in the order their documents join the corpus. The suite's direct dependencies
# and the large libraries they pull in; what is not installed is skipped (and the cache key says so).
DEPENDENCY_PACKAGES: tuple[str, ...] = (
    "torch", "transformers", "scipy", "pandas", "sklearn", "numpy", "matplotlib", "torchmetrics",
    "lightning", "datasets", "networkx", "sympy", "pyarrow", "huggingface_hub", "jsonargparse", "torchdata",
    "tokenizers", "seqeval", "joblib", "fsspec", "PIL", "jinja2", "pygments", "dateutil",
)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def package_root(name: str) -> Path | None:
    """The source directory of an installed top-level package, found without importing it."""
    spec = importlib.util.find_spec(name)  # a top-level name: locating it executes nothing
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def installed_dependencies() -> dict[str, str]:
    """{package: version} of the installed DEPENDENCY_PACKAGES (the corpus's text depends on both)."""
    found = {}
    owners = importlib.metadata.packages_distributions()  # one scan of every installed distribution
    for name in DEPENDENCY_PACKAGES:
        if package_root(name) is None:
            continue
        distributions = owners.get(name, [name])
        try:
            found[name] = importlib.metadata.version(distributions[0])
        except importlib.metadata.PackageNotFoundError:
            found[name] = "unknown"
    return found


def paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs, stripped, empty ones dropped."""
    return [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]


def deduplicate_paragraphs(documents: Iterable[Document], seen: set[str]) -> list[Document]:
    """Each document with the paragraphs already in `seen` removed (first occurrence wins; `seen` grows);
    a document left with fewer than two words is dropped."""
    kept = []
    for doc in documents:
        fresh = []
        for paragraph in paragraphs(doc.text):
            if paragraph not in seen:
                seen.add(paragraph)
                fresh.append(paragraph)
        text = "\n\n".join(fresh)
        if len(text.split()) >= 2:
            kept.append(Document(doc.id, doc.kind, doc.module, doc.package, doc.name, doc.signature, doc.params,
                                 text, doc.bucket))
    return kept


def parse_dependencies(stdlib_texts: Iterable[str], packages: Iterable[str] | None = None) -> list[Document]:
    """Every dependency docstring, paragraph-deduplicated against the standard library's and each other's.

    Module names are made unique by their package (``numpy.linalg``), so document ids (and so their split
    buckets) never collide with the standard library's."""
    seen = {p for text in stdlib_texts for p in paragraphs(text)}
    documents: list[Document] = []
    for name in DEPENDENCY_PACKAGES if packages is None else packages:
        root = package_root(name)
        if root is None:
            continue
        parsed = parse_stdlib(root, include_topics=False, package=name)
        documents.extend(deduplicate_paragraphs(parsed, seen))
    return documents


# Dependency documents train the model unless they fall in the pretraining validation or test buckets: no
# fine-tuning task reads them, so the buckets the standard library keeps for fine-tuning evaluation are free.
DEPENDENCY_BUCKETS: dict[str, Container[int]] = {
    "train": frozenset(range(100)) - frozenset(PRETRAIN_BUCKETS["validation"]) - frozenset(PRETRAIN_BUCKETS["test"]),
    "validation": PRETRAIN_BUCKETS["validation"],
    "test": PRETRAIN_BUCKETS["test"],
}
BuiltinCorpus = Literal["stdlib", "stdlib+dependencies"]
BUILTIN_CORPORA: tuple[str, ...] = get_args(BuiltinCorpus)
DEFAULT_BUILTIN_CORPUS: BuiltinCorpus = "stdlib+dependencies"


def dependency_documents(cache_dir: str | Path | None = None) -> datasets.Dataset:
    """The dependencies' documents (parse_dependencies), cached on disk keyed by the installed versions."""
    versions = installed_dependencies()
    if not versions:
        raise ValueError(f"none of {', '.join(DEPENDENCY_PACKAGES)} is installed: the built-in corpus "
                         "'stdlib+dependencies' reads their docstrings; install the project, or use 'stdlib'")
    key = stable_hash(CORPUS_VERSION, sys.version, str(stdlib_root().resolve()), versions)
    target = resolve_cache_dir(cache_dir) / "builtin" / f"{python_tag()}-dependencies-{key}"
    if not target.exists():  # a minute or two, once per installed set of versions
        rank_zero_info(f"[data] reading the docstrings of {len(versions)} installed packages with ast "
                       f"({', '.join(versions)}); cached in {target}")
    return cached_documents(target, lambda: parse_dependencies(builtin_documents(cache_dir)["text"]))


def load_pretraining_corpus(cache_dir: str | Path | None = None,
                            corpus: BuiltinCorpus = DEFAULT_BUILTIN_CORPUS) -> datasets.DatasetDict:
    """The built-in pretraining corpus: the standard library's (load_builtin_corpus) and, for
    'stdlib+dependencies', the dependencies' documents after it in every split."""
    if corpus not in BUILTIN_CORPORA:
        raise ValueError(f"built-in corpus {corpus!r}: expected one of {', '.join(BUILTIN_CORPORA)}")
    stdlib = select_buckets(builtin_documents(cache_dir), PRETRAIN_BUCKETS)
    if corpus == "stdlib":
        return group_by_module(stdlib)
    dependencies = select_buckets(dependency_documents(cache_dir), DEPENDENCY_BUCKETS)
    return group_by_module(datasets.DatasetDict(
        {split: datasets.concatenate_datasets([stdlib[split], dependencies[split]]) for split in stdlib}))
