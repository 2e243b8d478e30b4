"""The run ledger: which runs of a plan finished, failed or are pending, so a re-run resumes.

One JSON file per experiment (runs/<experiment>/ledger.json), rewritten atomically
after every change, so a crash or Ctrl-C mid-plan loses at most the run in progress.
A finished run is skipped on re-run; a failed one is retried (its previous error is
kept in the record until it succeeds). Each record's result is typed by its stage (pretrain.compare.schema).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from pretrain.compare.running.run_identity import RunIdentity
from pretrain.compare.schema import RunRecord
from pretrain.data.caching import atomic_write


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: dict[str, RunRecord] = {}
        if path.exists():
            try:
                raw = json.loads(path.read_text())
                self.records = {k: RunRecord.from_dict(v) for k, v in raw["runs"].items()}
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
                raise ValueError(
                    f"{path}: not a readable run ledger ({error}); move it away to start the plan over"
                ) from None

    def done(self, run_id: str) -> bool:
        record = self.records.get(run_id)
        return record is not None and record.status == "done"

    def get(self, run_id: str) -> RunRecord | None:
        return self.records.get(run_id)

    def skip(self, run_id: str, reason: str, identity: RunIdentity) -> RunRecord:
        record = RunRecord(run_id, "skipped", identity, error=reason, finished_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
        self.save(record)
        return record

    def save(self, record: RunRecord) -> None:
        self.records[record.run_id] = record
        payload = {"runs": {k: v.to_dict() for k, v in self.records.items()}}
        atomic_write(self.path, lambda tmp: tmp.write_text(json.dumps(payload, indent=2, default=str)))
