"""Fixtures shared by several test files, and the session's environment.

Plain helpers stay importable modules beside this file (pytest puts tests/ on sys.path):
lightning_fakes (tiny configs, tokenizer and data module; also named by class path on command lines),
tasks_fixtures (task data files and tokenizers), wandb_offline (reading offline W&B runs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import datasets
import pytest
import torch
from torch import Tensor
from transformers import PreTrainedModel

from pretrain.data.sample_copies import write_sample_copies
from pretrain.hf import from_hf, to_hf


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `cuda` (tests/test_cuda.py, run by `make gpu-check`) are skipped on a machine without CUDA."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (make gpu-check runs these on one)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def wandb_offline_mode() -> Iterator[None]:
    """No test talks to the W&B server: runs are written offline (a test may still change the mode itself)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WANDB_MODE", "offline")
        yield


@pytest.fixture(scope="module")
def hub_copies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data-set directory root holding every registry entry's copy in the hub's schema (40 train rows each)."""
    root = tmp_path_factory.mktemp("hub")
    datasets.disable_progress_bars()
    write_sample_copies(root, rows=40)
    return root


@pytest.fixture
def private_datasets_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Arrow conversions of the copies go to the test's folder, not the user's `datasets` cache.

    Modules that read the hub copies use it for every test: `pytestmark = pytest.mark.usefixtures(...)`.
    """
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_cache")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


@pytest.fixture
def assert_hf_round_trip() -> Callable[[PreTrainedModel, dict[str, Tensor], tuple[str, ...], float], None]:
    """check(hf, inputs, outputs, atol): `to_hf(from_hf(hf))` is hf's class with hf's embedding tie and
    gives the same `outputs` (attribute names of the model output) on `inputs` (keyword arguments)."""

    def check(hf: PreTrainedModel, inputs: dict[str, Tensor], outputs: tuple[str, ...], atol: float) -> None:
        back = to_hf(from_hf(hf))
        assert type(back) is type(hf)
        with torch.no_grad():
            expected, got = hf(**inputs), back(**inputs)
        for name in outputs:
            torch.testing.assert_close(getattr(got, name), getattr(expected, name), atol=atol, rtol=0)
        assert back.config.tie_word_embeddings == hf.config.tie_word_embeddings

    return check
