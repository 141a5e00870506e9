"""The `vecclust` command line: the demo and the `cluster` command."""

from .demo import DEMO_SECTIONS
from .main import main

__all__ = ["DEMO_SECTIONS", "main"]
