"""Looking a record up by its name (a family, a task), with the one error every such lookup gives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

Record = TypeVar("Record")


def record_named(records: Mapping[str, Record], name: str, kind: str) -> Record:
    """The record called `name`; anything else is a one-line error naming `kind` and the choices."""
    record = records.get(name)
    if record is None:
        raise ValueError(f"{kind}={name!r} is not supported; choose one of {', '.join(records)}")
    return record
