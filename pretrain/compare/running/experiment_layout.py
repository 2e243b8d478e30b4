"""The folders of one comparison, named here and nowhere else:

    <runs_dir>/<experiment>/            what the plan ran, so a re-run resumes
        plan.json                       the plan the runs belong to (a different plan is refused)
        ledger.json                     every run's identity, status and result (pretrain.compare.running.ledger)
        <run id>/                       one run's folder (pretrain.run_layout)
    <reports_dir>/<experiment>/         what a reader gets: results.json, report.md and the plots
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pretrain.run_layout import Entry, RunLayout


@dataclass(frozen=True)
class ExperimentLayout:
    """`runs`: the experiment's run folder (plan, ledger, one folder per run); `reports`: its report folder."""

    runs: Path
    reports: Path

    PLAN_FILE: ClassVar[str] = "plan.json"
    LEDGER_FILE: ClassVar[str] = "ledger.json"
    RESULTS_FILE: ClassVar[str] = "results.json"
    REPORT_FILE: ClassVar[str] = "report.md"

    def __post_init__(self) -> None:
        object.__setattr__(self, "runs", Path(self.runs))
        object.__setattr__(self, "reports", Path(self.reports))

    @classmethod
    def of(cls, runs_dir: str | Path, reports_dir: str | Path, experiment: str) -> ExperimentLayout:
        """The experiment's folders under the plan's runs_dir and reports_dir."""
        return cls(Path(runs_dir) / experiment, Path(reports_dir) / experiment)

    plan_file = Entry("runs", PLAN_FILE)
    ledger_file = Entry("runs", LEDGER_FILE)
    results_file = Entry("reports", RESULTS_FILE)
    report_file = Entry("reports", REPORT_FILE)

    def run(self, run_id: str) -> RunLayout:
        """The folder of one run of the plan, named by its run id."""
        return RunLayout(self.runs / run_id)
