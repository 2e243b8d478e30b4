"""Built-in generation: a function's or class's signature + docstring body -> the docstring's summary."""

from __future__ import annotations

import re
from pathlib import Path

import datasets

from pretrain.data.builtin_corpus import builtin_documents
from tasks.builtin.splits import cached_task, split_examples
from tasks.builtin.text_units import PARAGRAPH_BREAK

_SIGNATURE_LINE = re.compile(r"^[\w.]+\(.*\)\s*(->.*)?$")  # C-style docstrings that start with their own signature


def summary_and_body(text: str) -> tuple[str, str] | None:
    """PEP 257 layout: a summary paragraph, then the body. None when the docstring has no usable pair."""
    paragraphs = PARAGRAPH_BREAK.split(text.strip())
    if len(paragraphs) < 2:
        return None
    summary = " ".join(paragraphs[0].split())
    body = "\n\n".join(p.strip("\n") for p in paragraphs[1:]).strip()
    first_line = paragraphs[0].strip().splitlines()[0]
    if _SIGNATURE_LINE.match(first_line) or not 3 <= len(summary.split()) <= 40 or len(body.split()) < 5:
        return None
    return summary, body


def builtin_generation(cache_dir: str | Path | None = None, root: Path | None = None) -> datasets.DatasetDict:
    """Columns ``source`` (signature line + docstring body), ``target`` (the summary) and ``document`` (the
    docstring's id)."""
    docs = builtin_documents(cache_dir, root)

    def build(table: datasets.Dataset) -> datasets.DatasetDict:
        # One pair per document, and documents are unique texts: nothing to deduplicate.
        pairs = ((doc, summary_and_body(doc["text"])) for doc in table if doc["kind"] in {"function", "class"})
        examples = (("", {"source": f"{doc['signature']}:\n{pair[1]}", "target": pair[0],
                      "document": doc["id"]}, doc["bucket"])
                    for doc, pair in pairs if pair is not None)
        features = datasets.Features({"source": datasets.Value("string"), "target": datasets.Value("string"),
                                      "document": datasets.Value("string")})
        return split_examples(examples, None, features)

    return cached_task("generation", docs, (), cache_dir, build)
