"""Read an offline W&B run back from the `run-<id>.wandb` file wandb writes under save_dir/wandb/offline-run-*/.

The file is a LevelDB-style log of protobuf `Record`s (W&B's transaction log, which `wandb sync`
uploads): a 7-byte file header, then 32 KiB blocks of chunks, each with a 7-byte header
(crc32, length, type: full / first / middle / last). Only what the tests check is decoded:
the run's name, group, job type and tags, and its config.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2 as pb

_BLOCK, _HEADER = 32768, 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


@dataclass
class OfflineRun:
    name: str
    group: str
    job_type: str
    tags: list[str]
    config: dict[str, Any] = field(default_factory=dict)


def _records(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B transaction log"
    records, pending, pos = [], b"", _HEADER
    while pos + _HEADER <= len(data):
        room = _BLOCK - pos % _BLOCK
        if room < _HEADER:  # the rest of a block too small for a chunk header is zero padding
            pos += room
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + _HEADER])
        chunk = data[pos + _HEADER:pos + _HEADER + length]
        pos += _HEADER + length
        if kind == _FULL:
            records.append(chunk)
        elif kind == _FIRST:
            pending = chunk
        elif kind == _MIDDLE:
            pending += chunk
        elif kind == _LAST:
            records.append(pending + chunk)
        else:  # zero header: end of the written part
            break
    return records


def read_offline_run(run_dir: Path) -> OfflineRun:
    """`run_dir` is one offline-run-* folder."""
    (log,) = run_dir.glob("*.wandb")
    run: OfflineRun | None = None
    config: dict[str, Any] = {}
    for raw in _records(log):
        record = pb.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            run = OfflineRun(r.display_name, r.run_group, r.job_type, list(r.tags))
            config.update({item.key: json.loads(item.value_json) for item in r.config.update})
        elif kind == "config":
            config.update({item.key: json.loads(item.value_json) for item in record.config.update})
    assert run is not None, f"{log} holds no run record"
    run.config = config
    return run


def offline_runs(save_dir: Path) -> list[OfflineRun]:
    """Every offline run under a logger's save_dir, by start second (runs started within one second: by run id)."""
    return [read_offline_run(d) for d in sorted((save_dir / "wandb").glob("offline-run-*"))]
