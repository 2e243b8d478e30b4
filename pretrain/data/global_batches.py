"""Training order that does not depend on the number of processes.

One permutation per epoch, a function of ``(seed, epoch)`` alone, is cut into global batches of
``batch_size * num_replicas`` rows; rank ``r`` takes the ``r``-th contiguous share of each. So the
union of the ranks' step-k batches is exactly the one-process step-k batch of ``batch_size *
num_replicas`` rows, and with losses normalised over the global batch (``PretrainingModule``) N
processes follow the one-process trajectory. torch's ``DistributedSampler`` instead shards by
stride after a shuffle of its own, which gives each rank other rows for every world size.

Each draw also carries the seed of its random MLM mask (``DrawnExamples``), so masks, too, depend on
``(seed, epoch, example)`` only, not on ranks, batch sizes, worker processes or a resume.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized
from typing import Any

import torch
from torch.utils.data import Dataset, DistributedSampler

Draw = tuple[int, int]  # (epoch, example index)


class GlobalBatchSampler(DistributedSampler):
    """This rank's share of every global batch, yielded as ``(epoch, index)`` draws.

    A ``DistributedSampler`` (so Lightning keeps it instead of injecting its own); ``set_epoch``,
    which Lightning calls at every epoch start, selects the permutation.

    An epoch's last global batch may be shorter (``b`` rows): it is split as evenly as contiguous
    shares allow (``b * r // N`` to ``b * (r + 1) // N``), so ranks hold unequal counts there, which
    the global normalisation of the loss accounts for. With ``b < N`` some rank would get no row,
    and every rank must step together, so that batch is dropped: the one case where N processes
    differ from one (at most ``N - 1`` examples per epoch).
    """

    def __init__(self, dataset: Sized, batch_size: int, num_replicas: int = 1, rank: int = 0,
                 shuffle: bool = True, seed: int = 0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size}: expected an integer >= 1 (rows per process)")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank={rank}: expected 0 <= rank < num_replicas={num_replicas}")
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed)
        self.batch_size = batch_size
        self.global_batch_size = batch_size * num_replicas

    def _order(self) -> list[int]:
        n = len(self.dataset)  # type: ignore[arg-type]
        if not self.shuffle:
            return list(range(n))
        generator = torch.Generator().manual_seed(self.seed + self.epoch)  # as DistributedSampler seeds
        return torch.randperm(n, generator=generator).tolist()

    def __iter__(self) -> Iterator[Draw]:  # type: ignore[override]
        order = self._order()
        for start in range(0, len(order), self.global_batch_size):
            rows = order[start : start + self.global_batch_size]
            if len(rows) < self.num_replicas:
                return
            share = rows[len(rows) * self.rank // self.num_replicas : len(rows) * (self.rank + 1) // self.num_replicas]
            yield from ((self.epoch, index) for index in share)

    def __len__(self) -> int:
        n = len(self.dataset)  # type: ignore[arg-type]
        full, rest = divmod(n, self.global_batch_size)
        last = rest * (self.rank + 1) // self.num_replicas - rest * self.rank // self.num_replicas
        return full * self.batch_size + (last if rest >= self.num_replicas else 0)


class DrawnExamples(Dataset):
    """Reads ``(epoch, index)`` draws: the example plus ``draw_seed``, unique per (seed, epoch, index).

    Examples with an ``at_epoch(epoch, index)`` reader (GPT's re-cut blocks) are read as the draw's epoch
    has them.

    A plain integer index (e.g. from a sampler Lightning injected) reads the example alone.
    """

    def __init__(self, examples: Dataset, seed: int) -> None:
        self.examples, self.seed = examples, seed

    def __len__(self) -> int:
        return len(self.examples)  # type: ignore[arg-type]

    def __getitem__(self, draw: Draw | int) -> dict[str, Any]:
        return self.__getitems__([draw])[0]

    def __getitems__(self, draws: list[Draw | int]) -> list[dict[str, Any]]:
        indices = [draw if isinstance(draw, int) else draw[1] for draw in draws]
        at_epoch = getattr(self.examples, "at_epoch", None)  # examples cut anew each epoch (PackedBlocks)
        read_many = getattr(self.examples, "__getitems__", None)  # datasets.Dataset: one batched read
        if at_epoch is not None:
            rows = [at_epoch(0, draw) if isinstance(draw, int) else at_epoch(*draw) for draw in draws]
        elif read_many is not None:
            rows = read_many(indices)
        else:
            rows = [self.examples[i] for i in indices]
        return [dict(row) if isinstance(draw, int) else {**row, "draw_seed": draw_seed(self.seed, *draw)}
                for draw, row in zip(draws, rows)]


def draw_seed(seed: int, epoch: int, index: int) -> int:
    """A generator seed per (run seed, epoch, example): a new mask every epoch (RoBERTa's dynamic masking)."""
    return ((seed * 1_000_003 + epoch) * 1_000_003 + index) % (2**63)
