"""Files the suite writes follow the user's umask (a temp file renamed into place would stay 0600),
and tokenizer training says that it runs."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from pretrain.data.caching import atomic_directory, atomic_write
from pretrain.data.tokenizer import _new_tokenizer, build_tokenizer
from pretrain.lightning.atomic_io import AtomicCheckpointIO


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_write_follows_umask(tmp_path: Path, umask_022: None) -> None:
    target = tmp_path / "results.json"
    atomic_write(target, lambda tmp: tmp.write_text("{}"))
    assert _mode(target) == 0o644


def test_atomic_write_follows_a_stricter_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        atomic_write(tmp_path / "private.json", lambda tmp: tmp.write_text("{}"))
    finally:
        os.umask(old)
    assert _mode(tmp_path / "private.json") == 0o600


def test_atomic_directory_and_checkpoint_follow_umask(tmp_path: Path, umask_022: None) -> None:
    with atomic_directory(tmp_path / "cache-entry") as tmp:
        (tmp / "data.txt").write_text("x")
    assert _mode(tmp_path / "cache-entry") == 0o755
    AtomicCheckpointIO().save_checkpoint({"w": torch.zeros(2)}, tmp_path / "ckpt" / "last.ckpt")
    assert _mode(tmp_path / "ckpt" / "last.ckpt") == 0o644
    assert torch.equal(torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)["w"], torch.zeros(2))


@pytest.mark.parametrize("kind", ["wordpiece", "bpe"])
def test_tokenizer_training_shows_progress(kind: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert _new_tokenizer(kind, 300)[1].show_progress
    build_tokenizer(kind, 300, ["a few words to train on", "and a few more words"] * 5, tmp_path)
    assert f"training a {kind} tokenizer" in capfd.readouterr().err
    build_tokenizer(kind, 300, ["a few words to train on", "and a few more words"] * 5, tmp_path)
    assert "training" not in capfd.readouterr().err  # cached: nothing to train, nothing said
