"""What every command shares: the program name, user-facing errors and warnings, the version."""

from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager

PROG = "vecclust"


class CLIError(Exception):
    """A user-facing error: printed as `vecclust: error: <message>`, exit status 2."""


def version() -> str:
    try:
        from .. import __version__

        return __version__
    except ImportError:
        return "unknown"


@contextmanager
def warnings_reported():
    """Collects the warnings raised in the block and prints them as `vecclust: warning: ...` at its end."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        print(f"{PROG}: warning: {warning.message}", file=sys.stderr)
