"""What every command line of the project shares: bad input is one line on stderr and exit code 2.

`ArgumentParser.error` raises `UsageError` instead of printing a usage block; `entry_point` turns a
`UsageError` raised anywhere in a `main(argv) -> int` into that one line and the return value 2. The
commands of `verify` and `figures` use the same two (through `verify.cli`).

>>> parser = ArgumentParser(prog="demo")
>>> _ = parser.add_argument("--m", type=int)
>>> @entry_point("demo")
... def main(argv=None):
...     args = parser.parse_args(argv)
...     return 0
>>> import contextlib, io
>>> with contextlib.redirect_stderr(io.StringIO()) as err:
...     code = main(["--m", "x"])
>>> code, err.getvalue()
(2, "demo: error: argument --m: invalid int value: 'x'\\n")
"""
from __future__ import annotations

import argparse
import functools
import sys


class UsageError(ValueError):
    """Bad command-line input: `entry_point` prints it in one line and returns exit code 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises `UsageError` instead of printing a usage block and exiting."""

    def error(self, message: str):
        raise UsageError(message)


def usage_failure(prog: str, message: object) -> int:
    """Print `prog: error: message` on stderr (one line) and return the exit code 2.

    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     usage_failure("demo", "--m must be at least 1")
    2
    >>> err.getvalue()
    'demo: error: --m must be at least 1\\n'
    """
    text = " ".join(str(message).split())          # one line whatever the message holds
    print(f"{prog}: error: {text}", file=sys.stderr)
    return 2


def entry_point(prog: str):
    """Decorate `main(argv=None) -> int`: a `UsageError` it raises becomes `usage_failure(prog, ...)`."""
    def decorate(main):
        @functools.wraps(main)
        def wrapper(*args, **kwargs):
            try:
                return main(*args, **kwargs)
            except UsageError as exc:
                return usage_failure(prog, exc)
        return wrapper
    return decorate
