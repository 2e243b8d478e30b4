"""Built-in generation: a function's or class's signature -> its docstring's summary line.

Code summarization from the interface alone: ``def send(self, value)`` -> "Send a value into the coroutine.
Return next yielded value or raise StopIteration." The name and parameters are what a summary mostly
paraphrases, and every documented function or class gives one pair (a docstring body is not needed), so
the task has thousands of pairs. A source of signature + docstring body was tried first: its 1,794
training pairs left both families below the best constant output after 250 fine-tuning steps, and the
body, often a continuation of the summary, did not help (see the README's generation measurements).
"""

from __future__ import annotations

import re
from pathlib import Path

import datasets

from pretrain.data.builtin_corpus import builtin_documents
from tasks.builtin.splits import cached_task, earliest_split, split_examples
from tasks.builtin.text_units import PARAGRAPH_BREAK, normalized, paragraphs

_SIGNATURE_LINE = re.compile(r"^[\w.]+\(.*\)\s*(->.*)?$")  # C-style docstrings that start with their own signature
_SUMMARY_WORDS = (3, 40)  # shorter is a fragment ("Constructor."), longer is not a summary line


def summary(text: str) -> str | None:
    """PEP 257's summary: the docstring's first paragraph, on one line; None when it is not one."""
    first = PARAGRAPH_BREAK.split(text.strip())[0]
    line = normalized(first)
    low, high = _SUMMARY_WORDS
    if not line or _SIGNATURE_LINE.match(first.strip().splitlines()[0]) or not low <= len(line.split()) <= high:
        return None
    return line


def builtin_generation(cache_dir: str | Path | None = None, root: Path | None = None) -> datasets.DatasetDict:
    """Columns ``source`` (the signature, e.g. ``def f(a, b=1) -> int``) and ``target`` (the summary)."""
    docs = builtin_documents(cache_dir, root)

    def build(table: datasets.Dataset) -> datasets.DatasetDict:
        # A summary shared by several documents ("Emit a record.") is kept once, in the earliest split of any
        # document holding it as a paragraph: no test target is a training target or a pretraining paragraph.
        earliest = earliest_split((p, doc["bucket"]) for doc in table for p in paragraphs(doc["text"]))
        pairs = ((doc, summary(doc["text"])) for doc in table if doc["kind"] in {"function", "class"})
        examples = ((line, {"source": doc["signature"], "target": line}, doc["bucket"])
                    for doc, line in pairs if line is not None)
        features = datasets.Features({"source": datasets.Value("string"), "target": datasets.Value("string")})
        return split_examples(examples, earliest, features)

    return cached_task("generation", docs, (), cache_dir, build)
