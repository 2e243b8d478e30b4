"""Config and data errors on the command line: one clear line and exit status 2, not a traceback.

LightningCLI reports a bad value as a traceback of 70-95 lines, where the sentence that names the
field (our ValueError) sits at the bottom of a chain of jsonargparse wrappers. On the command line
the `pretrain` and `finetune` commands print only that sentence; PRETRAIN_DEBUG=1 re-raises with
the full traceback. In-process callers (`main(args)`, scripts/compare.py) still get the exception.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import is_dataclass
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

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


_KEY = re.compile(r'Parser key "([^"]+)"')
_EXPECTED = re.compile(r"Expected an? (typing\.Literal\[.*?\]|<class '[\w.]+'>)\.? Got value: (.*)$")
_ABSTRACT = re.compile(r"Expected an instantiatable class, but ([\w.]+) is abstract")
_CLASS_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
                "dict": "a mapping", "list": "a list", "NoneType": "null"}


def describe_type(hint: Any) -> str:
    """What a value of type `hint` may be, in words: 'one of causal, bidirectional or null', 'an integer',
    'a mapping {name: number}'."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if origin in (Union, UnionType):
        parts = [describe_type(a) for a in args if a is not type(None)]
        return " or ".join(parts) + (" or null" if type(None) in args else "")
    if origin is dict:
        key, value = (describe_type(a).split()[-1] for a in args) if args else ("key", "value")
        return f"a mapping {{{key}: {value}}}"
    if origin is list:
        return f"a list of {describe_type(args[0]).split()[-1]}s" if args else "a list"
    if is_dataclass(hint):
        return "a mapping of its fields"
    return _CLASS_WORDS.get(getattr(hint, "__name__", ""), f"a {getattr(hint, '__name__', hint)}")


def _expected(text: str) -> str | None:
    """jsonargparse's 'Expected a typing.Literal['a', 'b']. Got value: x' in words, or None for other text."""
    match = _EXPECTED.search(text)
    if match is None:
        return None
    typed, value = match.groups()
    if typed.startswith("typing.Literal["):
        choices = [c.strip().strip("'\"") for c in typed[len("typing.Literal["):-1].split(",")]
        allowed = "one of " + ", ".join(choices)
    else:
        allowed = _CLASS_WORDS.get(typed[len("<class '"):-2].rsplit(".", 1)[-1], typed)
    return f"expected {allowed}; got {value.strip()!r}"


def error_line(error: BaseException) -> str:
    """The one sentence that explains `error`: the root of its cause chain, else jsonargparse's innermost line; a
    bad value is named by its key (`model.decoder_attention: expected one of causal, bidirectional; got 'x'`)."""
    root = error
    while root.__cause__ is not None:
        root = root.__cause__
    expected = _expected(str(root)) if root is not error else None
    if expected is not None:
        # The outer error names the option (`model`), the inner ones the field below it (`decoder_attention`).
        chain, link = [error], error
        while link.__cause__ is not None:
            link = link.__cause__
            chain.append(link)
        names = [k for e in chain for k in _KEY.findall(str(e).splitlines()[0] if str(e) else "")]
        names = [k for i, k in enumerate(names) if k not in names[:i]]
        return f"{'.'.join(names) or 'value'}: {expected}"
    abstract = _ABSTRACT.search(str(root))
    if abstract is not None and _KEY.search(str(error)):
        # An option below a class (`--trainer.logger.init_args.save_dir`) where the config names no class to take it.
        key, base = _KEY.findall(str(error))[0], abstract.group(1)
        return (f"{key}: the config names no class to take these options ({base} is abstract); name one first: "
                f"--{key} CLASS, a subclass of {base.rsplit('.', 1)[-1]}")
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


def command_line_parser_kwargs(subcommands: list[str], notes: str = "") -> dict[str, Any]:
    """LightningCLI parser_kwargs: raise on parse errors (so `one_line_errors` reports them) and say so in --help,
    after the command's `notes`."""
    kwargs: dict[str, Any] = {"exit_on_error": False, "epilog": f"{notes} {HELP_EPILOG}".strip()}
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
