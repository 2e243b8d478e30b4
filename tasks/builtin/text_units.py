"""The text units the built-in tasks take from a docstring: paragraphs and sentences."""

from __future__ import annotations

import re

CODE_KINDS = ("module", "class", "function")  # documents of code (pydoc topics are not)
PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# A sentence ends at . ! or ? followed by a capital letter or a code mark, so that "e.g. the" and "os.path" stay whole.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`*'\"(\[])")


def normalized(text: str) -> str:
    return " ".join(text.split())


def paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs with their line layout (argument lists are marked by it)."""
    return [p.strip("\n") for p in PARAGRAPH_BREAK.split(text) if p.strip()]


def is_doctest(paragraph: str) -> bool:
    return paragraph.lstrip().startswith(">>>")  # code, not prose


def sentence_spans(paragraph: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for boundary in _SENTENCE_END.finditer(paragraph):
        spans.append((start, boundary.start()))
        start = boundary.end()
    spans.append((start, len(paragraph)))
    return [(s, e) for s, e in spans if paragraph[s:e].strip()]
