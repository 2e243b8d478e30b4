"""The built-in corpus: docstrings of the running Python's standard library plus pydoc topics.

Nothing is downloaded or copied into the repository. Source
files are parsed with ``ast`` and never imported, so reading the corpus has no side
effects. Every document has a stable id (``function:json.dumps``) and a split bucket
``sha256(id) % 100`` that fixes which split it lands in, for pretraining and for the
three derived fine-tuning tasks alike:

    buckets  0-61  pretraining train        fine-tuning train
    buckets 62-66  pretraining validation   fine-tuning validation
    buckets 67-80  (not in pretraining)     fine-tuning validation
    buckets 81-85  pretraining test         fine-tuning test
    buckets 86-99  (not in pretraining)     fine-tuning test

so no document that any fine-tuning validation or test split uses is ever in the
pretraining train split. Pretraining's own validation and test documents are fine-tuning
evaluation documents: nothing trains on either, and sharing them leaves the most text for
pretraining train. The evaluation buckets are as wide as the generation task needs (one
pair per docstring, about 29 per bucket) for 500 validation and 500 test pairs on
Python 3.11-3.13. On Python 3.11 (7,945 documents) pretraining gets 4,982 train documents
(197k words), 388 validation and 366 test. Parsed documents are cached on disk keyed by
the Python version and the standard library's location, which makes every load after the
first take well under a second.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import os
import re
import sys
import sysconfig
from collections.abc import Callable, Container, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import datasets

from pretrain.data.caching import atomic_directory, resolve_cache_dir, stable_hash

# Bump when parsing rules or splits change so that old caches are not reused.
CORPUS_VERSION = 2

PRETRAIN_BUCKETS: dict[str, range] = {"train": range(0, 62), "validation": range(62, 67), "test": range(81, 86)}
FINETUNE_BUCKETS: dict[str, range] = {"train": range(0, 62), "validation": range(62, 81), "test": range(81, 100)}

# Test suites, demos, vendored third-party code and generated codec tables are not prose about the stdlib.
_SKIPPED_DIRS = frozenset(
    {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__", "turtledemo", "encodings"}
)
_GENERATED_MARK = re.compile(r"auto(matically)?[- ]generated|generated (by|from)|do not edit", re.IGNORECASE)


@dataclass(frozen=True)
class Document:
    """One docstring (or pydoc topic) with the code structure the derived tasks label from."""

    id: str
    kind: str  # "module" | "class" | "function" | "topic"
    module: str  # dotted module name, "" for topics
    package: str  # top-level package directory, "" for single-file modules and topics
    name: str  # qualified name inside the module ("" for modules and topics)
    signature: str  # "def f(a, b=1) -> int" or "class C(Base)"; "" for modules and topics
    params: list[str] = field(default_factory=list)  # parameter names, without self/cls
    text: str = ""
    bucket: int = 0


def split_bucket(doc_id: str) -> int:
    """Deterministic bucket in [0, 100) from the id alone (independent of Python's hash seed)."""
    return int(hashlib.sha256(doc_id.encode("utf-8")).hexdigest()[:8], 16) % 100


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _is_generated(source: str) -> bool:
    return bool(_GENERATED_MARK.search(source[:2000]))


def _module_files(root: Path, package: str | None = None) -> list[tuple[Path, str, str]]:
    """(path, dotted module name, top-level package) for every parseable source file under `root`, sorted:
    the standard library's (`package` None), or one installed package's (`root` is its directory)."""
    found: list[tuple[Path, str, str]] = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in _SKIPPED_DIRS and not d.startswith((".", "test_")))
        rel = Path(directory).relative_to(root)
        if rel.parts and not (Path(directory) / "__init__.py").exists():
            subdirs[:] = []  # not a package (e.g. config-3.11 or lib-dynload)
            continue
        for filename in sorted(files):
            if not filename.endswith(".py") or filename.startswith(("test_", "_sysconfigdata", "__phello__")):
                continue
            parts = [*([package] if package else []), *rel.parts, filename[:-3]]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if not parts or parts == ["pydoc_data", "topics"] or parts[0] in {"this", "antigravity"}:
                continue  # topics are read as data below; `this` is rot13 text
            top = package or (rel.parts[0] if rel.parts else "")
            found.append((Path(directory) / filename, ".".join(parts), top))
    return found


def _params(args: ast.arguments, is_method: bool) -> list[str]:
    names = [a.arg for a in [*args.posonlyargs, *args.args]]
    if is_method and names and names[0] in {"self", "cls", "mcs", "metacls"}:
        names = names[1:]
    if args.vararg:
        names.append(args.vararg.arg)
    names.extend(a.arg for a in args.kwonlyargs)
    if args.kwarg:
        names.append(args.kwarg.arg)
    return names


def _function_signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
    return f"{prefix} {node.name}({ast.unparse(node.args)}){returns}"


def _class_signature(node: ast.ClassDef) -> str:
    bases = ", ".join(ast.unparse(b) for b in [*node.bases, *node.keywords])
    return f"class {node.name}({bases})" if bases else f"class {node.name}"


def _documents_in_module(tree: ast.Module, module: str, package: str) -> list[Document]:
    docs: list[Document] = []

    def add(kind: str, name: str, signature: str, params: list[str], node: ast.AST) -> None:
        raw = ast.get_docstring(node, clean=False)  # type: ignore[arg-type]
        if not raw:
            return
        text = inspect.cleandoc(raw).strip()
        if len(text.split()) < 2:
            return
        doc_id = f"{kind}:{module}.{name}" if name else f"{kind}:{module}"
        docs.append(Document(doc_id, kind, module, package, name, signature, params, text, split_bucket(doc_id)))

    add("module", "", "", [], tree)

    def visit(body: list[ast.stmt], prefix: str, in_class: bool) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                qualname = f"{prefix}{node.name}"
                add("function", qualname, _function_signature(node), _params(node.args, in_class), node)
            elif isinstance(node, ast.ClassDef):
                qualname = f"{prefix}{node.name}"
                init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
                params = _params(init.args, True) if init is not None else []
                add("class", qualname, _class_signature(node), params, node)
                visit(node.body, f"{qualname}.", True)

    visit(tree.body, "", False)
    return docs


def _pydoc_topics() -> dict[str, str]:
    try:
        from pydoc_data.topics import topics  # a generated dict of str -> str; importing it runs no code
    except ImportError:  # some distributions strip pydoc_data; the docstrings alone still make a corpus
        return {}
    return dict(topics)


def parse_stdlib(root: Path, include_topics: bool = True, package: str | None = None) -> list[Document]:
    """Every non-trivial docstring under ``root`` (plus pydoc topics), exact-duplicate texts removed;
    ``package``: ``root`` is that installed package's directory (module names start with it).

    Duplicates (an overriding method that repeats its base class docstring) are dropped
    keeping the first occurrence in sorted file order, so the same text can never sit
    in two splits.
    """
    docs: list[Document] = []
    for path, module, top in _module_files(root, package):
        try:
            source = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # a handful of files use legacy encodings; they are not worth a decoder here
        if _is_generated(source):
            continue
        try:
            tree = ast.parse(source, filename=str(path))
        except SyntaxError:
            continue  # files that target another Python version (e.g. lib2to3 fixtures)
        docs.extend(_documents_in_module(tree, module, top))
    if include_topics:
        for key, text in sorted(_pydoc_topics().items()):
            text = text.strip()
            if text:
                doc_id = f"topic:{key}"
                docs.append(Document(doc_id, "topic", "", "", key, "", [], text, split_bucket(doc_id)))
    seen: set[str] = set()
    unique: list[Document] = []
    for doc in docs:
        if doc.text not in seen:
            seen.add(doc.text)
            unique.append(doc)
    return unique


def _documents_features() -> datasets.Features:
    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "kind": datasets.Value("string"),
            "module": datasets.Value("string"),
            "package": datasets.Value("string"),
            "name": datasets.Value("string"),
            "signature": datasets.Value("string"),
            "params": datasets.Sequence(datasets.Value("string")),
            "text": datasets.Value("string"),
            "bucket": datasets.Value("int32"),
        }
    )


def builtin_documents(cache_dir: str | Path | None = None, root: Path | None = None) -> datasets.Dataset:
    """All parsed documents of the stdlib at ``root`` (default: the running Python's), cached on disk."""
    root = stdlib_root() if root is None else Path(root)
    key = stable_hash(CORPUS_VERSION, sys.version, str(root.resolve()))

    def parse() -> list[Document]:
        docs = parse_stdlib(root, include_topics=root == stdlib_root())
        if not docs:
            raise ValueError(f"no docstrings found under {root}: expected a Python standard library directory")
        return docs

    return cached_documents(resolve_cache_dir(cache_dir) / "builtin" / f"{python_tag()}-{key}", parse)


def python_tag() -> str:
    return f"py{sys.version_info.major}.{sys.version_info.minor}"


def cached_documents(target: Path, parse: Callable[[], list[Document]]) -> datasets.Dataset:
    """The document table saved at `target`, parsed (and saved atomically) on first use."""
    if not target.exists():
        table = datasets.Dataset.from_list([asdict(d) for d in parse()], features=_documents_features())
        with atomic_directory(target) as tmp:
            table.save_to_disk(str(tmp))
    return datasets.load_from_disk(str(target))


def select_buckets(docs: datasets.Dataset, buckets: Mapping[str, Container[int]]) -> datasets.DatasetDict:
    """Split a document table by bucket; row order (sorted file order) is kept within each split."""
    bucket_column = docs["bucket"]
    splits = {}
    for split, allowed in buckets.items():
        rows = [i for i, b in enumerate(bucket_column) if b in allowed]
        splits[split] = docs.select(rows)
    return datasets.DatasetDict(splits)


def load_builtin_corpus(cache_dir: str | Path | None = None, root: Path | None = None) -> datasets.DatasetDict:
    """The pretraining corpus: train/validation/test with columns ``id``, ``text`` and ``document``.

    ``document`` groups the rows into natural documents for NSP (BERT draws a positive's two segments
    from one document and a negative's second segment from another): a source module, whose
    docstrings follow each other in file order, or a pydoc topic on its own.
    Train holds no fine-tuning validation/test document (buckets 62-99); see the module docstring.
    """
    return group_by_module(select_buckets(builtin_documents(cache_dir, root), PRETRAIN_BUCKETS))


def group_by_module(corpus: datasets.DatasetDict) -> datasets.DatasetDict:
    """Columns ``id``, ``text`` and ``document`` (the module, or a topic's own id): NSP's documents."""
    corpus = corpus.map(
        lambda batch: {"document": [module or doc_id for module, doc_id in zip(batch["module"], batch["id"])]},
        batched=True, desc="grouping docstrings by module",
    )
    return corpus.select_columns(["id", "text", "document"])
