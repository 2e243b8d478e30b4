"""The shared by-name lookup of records (families, tasks)."""

from __future__ import annotations

import pytest

from pretrain.named_records import record_named


def test_a_known_name_gives_its_record_and_an_unknown_one_a_line_naming_the_choices() -> None:
    records = {"a": 1, "b": 2}
    assert record_named(records, "b", "letter") == 2
    with pytest.raises(ValueError, match=r"^letter='c' is not supported; choose one of a, b$"):
        record_named(records, "c", "letter")
