"""A fixture: synthetic copies of the registry's hub data sets in the hub's schemas, and a private `datasets` cache."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest

from pretrain.data.sample_copies import write_sample_copies


@pytest.fixture(scope="module")
def hub_copies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data-set directory root holding every registry entry's copy (40 train rows each)."""
    root = tmp_path_factory.mktemp("hub")
    datasets.disable_progress_bars()
    write_sample_copies(root, rows=40)
    return root


@pytest.fixture(autouse=True)
def private_datasets_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Arrow conversions of the copies go to the test's folder, not the user's `datasets` cache."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_cache")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
