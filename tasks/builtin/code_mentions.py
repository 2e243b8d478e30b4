"""Find mentions of parameters, stdlib modules, built-in exceptions and built-in types in docstrings.

This is the distant supervision behind the built-in NER task: labels come from the
code (the documented function's signature, the set of stdlib modules, the builtins),
not from annotators. Two rules keep them right most of the time:

1. A mention must match a known name exactly (dotted module names by longest prefix,
   ``os.path`` in ``os.path.join``), or be the ALL-CAPS spelling of a parameter, which
   is how tkinter's docstrings write them ("between INDEX1 and INDEX2").
2. A name that is also an ordinary word of the corpus ("time", "string", "object",
   "set", "path", "a") counts only where the text marks it as code: inside ``literal``
   or `role` back-quotes, as *emphasis* (the stdlib's convention for parameters), as a
   dotted name (``time.time``), followed by ``(`` or ``=``, at the head of an
   argument-list line (``timeout: seconds to wait``), or on a doctest line.
   Which names are "ordinary words" is measured on the corpus itself (no word list is
   shipped): a lowercase or Capitalised name that appears unmarked in at least
   ``min_prose_docs`` documents, and in at least as many documents unmarked as marked,
   not counting documents where it is the documented function's own parameter. This
   errs towards precision: jargon used as prose ("returns an int") also needs a mark.
"""

from __future__ import annotations

import builtins
import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

ENTITY_TYPES = ("PARAM", "MODULE", "EXCEPTION", "TYPE")
NER_LABELS = ["O"] + [f"{prefix}-{t}" for t in ENTITY_TYPES for prefix in ("B", "I")]

# Built-in *data* types; builtins such as map/zip/property are classes too but are not what a reader calls a type.
BUILTIN_TYPES = frozenset(
    {"bool", "bytearray", "bytes", "complex", "dict", "float", "frozenset", "int", "list", "memoryview",
     "object", "range", "set", "slice", "str", "tuple", "type"}
)  # fmt: skip
BUILTIN_EXCEPTIONS = frozenset(
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException) and not name.startswith("_")
)

_CHAIN = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_WORD_TOKEN = re.compile(r"\w+|[^\w\s]")
_BACKQUOTED = re.compile(r"``.+?``|`[^`\n]+`")
_EMPHASIS = re.compile(r"(?<![\w*])\*\w+\*(?![\w*])")
_ARG_LINE = re.compile(r"^[ \t]*\*{0,2}\w+[ \t]*(?::|--|-[ \t])", re.MULTILINE)
_DOCTEST_LINE = re.compile(r"^[ \t]*(?:>>>|\.\.\.)[^\n]*", re.MULTILINE)
_PLAIN_WORD = re.compile(r"[a-z]+|[A-Z][a-z]+")
_URL = re.compile(r"\w+://\S+")


def stdlib_module_names(extra: Iterable[str] = ()) -> frozenset[str]:
    """Public top-level stdlib names plus every dotted module name found while parsing."""
    names = {n for n in sys.stdlib_module_names if not n.startswith("_")}
    names.update(m for m in extra if m and not any(part.startswith("_") for part in m.split(".")))
    return frozenset(names)


def code_spans(text: str) -> list[tuple[int, int]]:
    """Character spans the text itself marks as code (see rule 2 above)."""
    spans = [m.span() for m in _BACKQUOTED.finditer(text)]
    spans += [m.span() for m in _EMPHASIS.finditer(text)]
    spans += [m.span() for m in _ARG_LINE.finditer(text)]
    spans += [m.span() for m in _DOCTEST_LINE.finditer(text)]
    return spans


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)


def _is_marked(text: str, start: int, end: int, dotted: bool, spans: list[tuple[int, int]]) -> bool:
    if dotted or _inside(start, spans):
        return True
    following = text[end : end + 1]
    preceding = text[max(0, start - 1) : start]
    return following in {"(", "="} or preceding == "="


@dataclass(frozen=True)
class MentionVocabulary:
    """The names to look for and which of them are ordinary prose words in this corpus."""

    modules: frozenset[str]
    prose_words: frozenset[str]

    def is_ambiguous(self, name: str) -> bool:
        return name in self.prose_words


def count_prose_words(documents: Iterable[tuple[str, list[str]]], min_prose_docs: int = 3) -> frozenset[str]:
    """Plain-word names used mostly as prose: unmarked in at least ``min_prose_docs`` documents and in at
    least as many documents as they appear marked as code (own parameters excluded).

    "time" (179 documents unmarked / 18 marked) and "object" (735 / 3) are prose words;
    "sys" (6 / 151) and "os" (9 / 77) are not, so they are tagged wherever they appear.
    """
    unmarked_docs: Counter[str] = Counter()
    marked_docs: Counter[str] = Counter()
    for text, params in documents:
        spans = code_spans(text)
        own = set(params)
        unmarked: set[str] = set()
        marked: set[str] = set()
        for match in _CHAIN.finditer(text):
            parts = match.group().split(".")
            name = parts[0]
            if name in own or not _PLAIN_WORD.fullmatch(name):
                continue
            if _is_marked(text, match.start(), match.end(), len(parts) > 1, spans):
                marked.add(name)
            else:
                unmarked.add(name)
        unmarked_docs.update(unmarked)
        marked_docs.update(marked)
    return frozenset(
        name for name, count in unmarked_docs.items() if count >= min_prose_docs and count >= marked_docs[name]
    )


def _classify_chain(parts: list[str], params: set[str], caps_params: dict[str, str],
                    vocab: MentionVocabulary) -> tuple[str, int, bool] | None:
    """(entity type, number of dotted parts it spans, whether the spelling itself marks it as code)."""
    head = parts[0]
    if head in params:
        return "PARAM", 1, False
    if len(head) > 1 and head.isupper() and head in caps_params:
        return "PARAM", 1, True  # tkinter writes parameters in capitals: that spelling is the code mark
    for k in range(len(parts), 0, -1):
        if ".".join(parts[:k]) in vocab.modules:
            return "MODULE", k, False
    if head in BUILTIN_EXCEPTIONS:
        return "EXCEPTION", 1, False
    if head in BUILTIN_TYPES:
        return "TYPE", 1, False
    return None


def find_mentions(text: str, params: list[str], vocab: MentionVocabulary) -> list[tuple[int, int, str]]:
    """Character spans (start, end, entity type) of every mention in ``text``."""
    spans = code_spans(text)
    param_set = {p for p in params if p not in {"self", "cls"}}
    caps_params = {p.upper(): p for p in param_set if not p.isupper()}
    urls = [m.span() for m in _URL.finditer(text)]  # "http" in a URL is a scheme, not the http package
    mentions: list[tuple[int, int, str]] = []
    for match in _CHAIN.finditer(text):
        if _inside(match.start(), urls):
            continue
        parts = match.group().split(".")
        found = _classify_chain(parts, param_set, caps_params, vocab)
        if found is None:
            continue
        entity, n_parts, spelled_as_code = found
        start = match.start()
        end = start + len(".".join(parts[:n_parts]))
        marked = spelled_as_code or _is_marked(text, start, match.end(), len(parts) > 1, spans)
        if vocab.is_ambiguous(parts[0]) and not marked:
            continue
        mentions.append((start, end, entity))
    return mentions


def bio_tag(text: str, mentions: list[tuple[int, int, str]]) -> tuple[list[str], list[str]]:
    """Split ``text`` into word/punctuation tokens and tag them BIO from character-level mentions."""
    tokens: list[str] = []
    tags: list[str] = []
    ordered = sorted(mentions)
    for match in _WORD_TOKEN.finditer(text):
        start, end = match.span()
        tag = "O"
        for m_start, m_end, entity in ordered:
            if m_start <= start and end <= m_end:
                tag = f"B-{entity}" if start == m_start else f"I-{entity}"
                break
        tokens.append(match.group())
        tags.append(tag)
    return tokens, tags
