"""CoNLL column files: one token per line, columns separated by whitespace, blank lines between sentences.

`-DOCSTART-` lines are document markers, not sentences; a line holding only whitespace (a lone
TAB in WNUT-17's train file) is a sentence boundary too. A line with too few columns is an
error naming the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class Sentence:
    tokens: list[str]
    tags: list[str]
    where: str  # "file:first line"


def read_conll(path: str | Path, token_column: int = 0, tag_column: int = -1) -> list[Sentence]:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    needed = max(token_column, tag_column) + 1 if tag_column >= 0 else max(token_column + 1, -tag_column, 2)
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0

    def close() -> None:
        if tokens:
            sentences.append(Sentence(list(tokens), list(tags), f"{path}:{start}"))
            tokens.clear()
            tags.clear()

    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                close()
                continue
            if fields[0] == "-DOCSTART-":
                close()
                continue
            if len(fields) < needed:
                raise ValueError(
                    f"{path}:{line_no}: expected at least {needed} whitespace-separated columns "
                    f"(token column {token_column}, tag column {tag_column}), got {len(fields)}: {line.rstrip()!r}"
                )
            if not tokens:
                start = line_no
            tokens.append(fields[token_column])
            tags.append(fields[tag_column])
    close()
    return sentences
