"""The benchmarks' figures: horizontal bar charts of speed ratios and of quality, as PNG files.

matplotlib is in the `bench` extra; without it the scripts still print their tables and say that
the figure was skipped. Only the object-oriented API is used (no pyplot state).
"""

from __future__ import annotations

import sys
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"  # ignored by git
COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
           "tab:olive", "tab:cyan")


def figure_or_none(**options):
    """A matplotlib Figure, or None (with a note) when matplotlib is not installed."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("matplotlib is not installed (pip install matplotlib): no figure written", file=sys.stderr)
        return None
    return Figure(**options)


def save(figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    print(f"figure written to {path}", file=sys.stderr)


def ratio_bars(rows, path: Path, title: str, xlabel: str) -> bool:
    """rows: (group, label, ratio); one bar per row on a log scale, coloured by group, 1 marked."""
    rows = [row for row in rows if row[2] is not None and row[2] > 0]
    if not rows:
        return False
    figure = figure_or_none(figsize=(10, 0.8 + 0.28 * len(rows)), dpi=100, layout="constrained")
    if figure is None:
        return False
    ax = figure.add_subplot()
    groups = list(dict.fromkeys(group for group, _, _ in rows))
    colour = {group: COLOURS[i % len(COLOURS)] for i, group in enumerate(groups)}
    positions = range(len(rows))
    bars = ax.barh(positions, [ratio for _, _, ratio in rows], color=[colour[group] for group, _, _ in rows])
    ax.bar_label(bars, labels=[f"{ratio:.2f}x" for _, _, ratio in rows], padding=3, fontsize="x-small")
    ax.set_yticks(list(positions), [f"{group}: {label}" for group, label, _ in rows], fontsize="x-small")
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize="medium")
    save(figure, path)
    return True


def grouped_bars(values, path: Path, title: str, xlabel: str, xlim=(0.0, 1.05)) -> bool:
    """values: {category: {series: value}}; one block of bars per category, one colour per series."""
    categories = list(values)
    series = list(dict.fromkeys(name for row in values.values() for name in row))
    if not categories or not series:
        return False
    figure = figure_or_none(figsize=(10, 1.0 + 0.22 * len(categories) * (len(series) + 1)), dpi=100,
                            layout="constrained")
    if figure is None:
        return False
    ax = figure.add_subplot()
    height = 0.8 / len(series)
    for j, name in enumerate(series):
        positions = [i + (j - (len(series) - 1) / 2) * height for i in range(len(categories))]
        heights = [values[c].get(name, float("nan")) for c in categories]
        bars = ax.barh(positions, heights, height=height, label=name, color=COLOURS[j % len(COLOURS)])
        ax.bar_label(bars, labels=["" if v != v else f"{v:.2f}" for v in heights], padding=2, fontsize="xx-small")
    ax.set_yticks(range(len(categories)), categories)
    ax.invert_yaxis()
    ax.set_xlim(*xlim)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize="medium")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    save(figure, path)
    return True
