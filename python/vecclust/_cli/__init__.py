"""The `vecclust` command line: the demo and the `cluster` command."""

from .main import DEMO_SECTIONS, main

__all__ = ["DEMO_SECTIONS", "main"]
