"""Config and data errors on the command line: one clear line and exit status 2, not a traceback.

LightningCLI reports a bad value as a traceback of 70-95 lines, where the sentence that names the
field (our ValueError) sits at the bottom of a chain of jsonargparse wrappers. On the command line
the `pretrain` and `finetune` commands print only that sentence; PRETRAIN_DEBUG=1 re-raises with
the full traceback. In-process callers (`main(args)`, scripts/compare.py) still get the exception.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jsonargparse import ArgumentError
from lightning.fabric.utilities.exceptions import MisconfigurationException

DEBUG_ENV_VAR = "PRETRAIN_DEBUG"
HELP_EPILOG = (f"A config or data error prints one line and exits with status 2; "
               f"set {DEBUG_ENV_VAR}=1 for the full traceback.")
# What a user's config or data can cause; anything else is a bug and keeps its traceback.
USER_ERRORS = (ValueError, TypeError, OSError, ArgumentError, MisconfigurationException)
# jsonargparse's wrapper lines around the real message.
_NOISE = ("Does not validate against any of the Union subtypes", "Subtypes:", "Errors:", "Given value",
          "Expected a <class 'NoneType'>", "- Expected a <class 'NoneType'>")


def error_line(error: BaseException) -> str:
    """The one sentence that explains `error`: the root of its cause chain, else jsonargparse's innermost line."""
    root = error
    while root.__cause__ is not None:
        root = root.__cause__
    if root is not error and isinstance(root, USER_ERRORS) and "\n" not in str(root).strip():
        return str(root).strip()
    lines = [line for line in str(error).splitlines() if line.strip() and not line.strip().startswith(_NOISE)]
    if not lines:
        return f"{type(error).__name__}: {error}"
    deepest = max(lines, key=lambda line: len(line) - len(line.lstrip()))
    text = deepest.strip().removeprefix("- ")
    first = lines[0].strip()
    if first.startswith("Parser key ") and first.endswith(":") and deepest is not lines[0]:
        text = f"{first.removeprefix('Parser key ').rstrip(':').strip(chr(34))}: {text}"
    return text


def command_line_parser_kwargs(subcommands: list[str]) -> dict[str, Any]:
    """LightningCLI parser_kwargs: raise on parse errors (so `one_line_errors` reports them) and say so in --help."""
    kwargs: dict[str, Any] = {"exit_on_error": False, "epilog": HELP_EPILOG}
    return {**kwargs, **{name: dict(kwargs) for name in subcommands}}


@contextmanager
def one_line_errors(prog: str) -> Iterator[None]:
    """Turn a user error raised inside the block into `prog: error: <sentence>` on stderr and SystemExit(2)."""
    try:
        yield
    except USER_ERRORS as error:
        if os.environ.get(DEBUG_ENV_VAR, "") not in ("", "0"):
            raise
        print(f"{prog}: error: {error_line(error)} ({DEBUG_ENV_VAR}=1 shows the traceback)", file=sys.stderr)
        raise SystemExit(2) from error
