"""Every command shown in a pretrain / finetune config's header comment parses (a stale flag fails here)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

import pretrain.cli
import tasks.cli

REPO = Path(__file__).resolve().parents[1]
COMMANDS: dict[str, Callable[[list[str]], None]] = {"pretrain": pretrain.cli.main, "finetune": tasks.cli.main}
_PLACEHOLDER = re.compile(r"<[^>]*>")  # e.g. <pretrain .ckpt | hf:dir>: any value parses as a path string


def header_commands(config: Path) -> list[list[str]]:
    """The commands in the comment lines above a config's first key, as argv lists after the command name.

    A command starts at a line beginning with `pretrain ` or `finetune ` and continues while the line ends
    with a backslash or a quote is still open (a JSON data source spread over lines); optional parts in
    brackets ([--config ...]) are included."""
    lines = []
    for line in config.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    commands, pending = [], ""
    for line in lines:
        if not pending and not line.startswith(tuple(f"{name} " for name in COMMANDS)):
            continue
        pending = f"{pending} {line}".strip()
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        try:
            argv = shlex.split(_PLACEHOLDER.sub("PLACEHOLDER", pending))
        except ValueError:  # an open quote: the command goes on on the next line
            continue
        commands.append([token.strip("[]") for token in argv])
        pending = ""
    assert not pending, f"{config}: unterminated command {pending!r}"
    return commands


CONFIGS = sorted([*REPO.glob("configs/pretrain/*.yaml"), *REPO.glob("configs/finetune/*.yaml")])
CASES = [(config, argv) for config in CONFIGS for argv in header_commands(config)]


def test_every_config_header_shows_a_command() -> None:
    assert {config for config, _ in CASES} == set(CONFIGS)


@pytest.mark.parametrize(("config", "argv"), CASES, ids=[f"{c.parent.name}/{c.name}:{i}" for i, (c, _) in
                                                         enumerate(CASES)])
def test_header_command_parses(config: Path, argv: list[str], monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(REPO)
    name, *args = argv
    with pytest.raises(SystemExit) as exit_info:
        COMMANDS[name]([*args, "--print_config"])
    assert exit_info.value.code in (0, None), argv
    assert capsys.readouterr().out.strip()
