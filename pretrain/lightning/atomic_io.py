"""Checkpoint writes that never leave a half-written file under the final name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO
from typing_extensions import override

from pretrain.data.caching import atomic_write


class AtomicCheckpointIO(TorchCheckpointIO):
    """Local paths: write a temp file in the target directory, fsync, then os.replace.

    Lightning's own writer goes through an fsspec transaction whose temp file lives in the
    system temp dir; when that is another filesystem the final move is a copy, and a kill
    during it leaves a truncated checkpoint. os.replace within one directory is atomic on POSIX.
    Remote paths (s3://, gs://) keep Lightning's writer.
    """

    @override
    def save_checkpoint(self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None) -> None:
        if "://" in str(path) and not str(path).startswith("file://"):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options for local path {path}")
        target = Path(str(path).removeprefix("file://"))
        get_filesystem(str(target)).makedirs(str(target.parent), exist_ok=True)

        def save(tmp: Path) -> None:
            with tmp.open("wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())

        atomic_write(target, save)  # the one atomic write: temp file beside the target, umask mode, os.replace
