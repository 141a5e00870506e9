"""`--plot`: the clusters of `vecclust cluster` and the results of `vecclust demo` as PNG files.

matplotlib is optional (it is in the `bench` extra): it is imported only when a plot is asked
for, and only its object-oriented API is used (no pyplot, no global backend switch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .common import CLIError

MAX_POINTS = 20_000  # points drawn; more only blur into each other and slow the drawing


def check_plot_path(path: Path) -> None:
    """Fails before any work if the plot cannot be written: no matplotlib, a wrong extension."""
    if path.suffix.lower() != ".png":
        raise CLIError(f"--plot {path}: the plot is a PNG file; give a name ending in .png")
    if not path.parent.is_dir():
        raise CLIError(f"--plot {path}: the directory {path.parent} does not exist")
    new_figure()


def new_figure(**options: Any):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise CLIError("--plot needs matplotlib, which is not installed (pip install matplotlib)") from None
    return Figure(**options)


def principal_plane(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """(mean, 2 x d projection, axis label): the first two principal axes, or the columns if d <= 2."""
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    if X.shape[1] <= 2:
        return np.zeros_like(mean), np.eye(2, X.shape[1]), "column"
    # The principal axes from the SVD of the centred data; signs fixed so the picture is reproducible.
    _, _, vt = np.linalg.svd(X - mean, full_matrices=False)
    axes = vt[:2] * np.where(vt[:2, :1] < 0, -1.0, 1.0)
    return mean, axes, "principal component"


def colours(labels: np.ndarray):
    from matplotlib import colormaps

    table = colormaps["tab10" if labels.max(initial=0) < 10 else "tab20"]
    return table(np.mod(labels, table.N))


def cluster_figure(X: np.ndarray, labels: np.ndarray, centres: np.ndarray | None, title: str, path: Path,
                   centre_name: str = "centres") -> None:
    """Scatter of the rows (on their first two principal components when d > 2) by label, centres marked."""
    labels = np.asarray(labels)
    shown = np.arange(len(X))
    if len(X) > MAX_POINTS:  # an evenly spaced subset, the same on every run
        shown = np.linspace(0, len(X) - 1, MAX_POINTS).astype(np.int64)
    mean, axes, name = principal_plane(X)
    points = (np.asarray(X[shown], dtype=np.float64) - mean) @ axes.T
    figure = new_figure(figsize=(7, 6), dpi=100, layout="constrained")
    ax = figure.add_subplot()
    ax.scatter(points[:, 0], points[:, 1] if points.shape[1] > 1 else np.zeros(len(points)), s=6,
               c=colours(labels[shown]), linewidths=0, alpha=0.7)
    if centres is not None and len(centres):
        marks = (np.asarray(centres, dtype=np.float64) - mean) @ axes.T
        ax.scatter(marks[:, 0], marks[:, 1] if marks.shape[1] > 1 else np.zeros(len(marks)), s=120, marker="X",
                   c="black", edgecolors="white", linewidths=1.2, label=centre_name)
        ax.legend(loc="best", fontsize="small")
    ax.set_xlabel(f"{name} 1")
    ax.set_ylabel(f"{name} 2" if X.shape[1] > 1 else "")
    subset = f", {len(shown)} of {len(X)} points drawn" if len(shown) < len(X) else ""
    ax.set_title(f"{title}{subset}", fontsize="medium")
    figure.savefig(path)


def demo_figure(results: dict[str, Any], path: Path) -> None:
    """The demo's results in four panels: speed against scikit-learn, k-medoids, PPP, the index."""
    figure = new_figure(figsize=(13, 9), dpi=100, layout="constrained")
    speed, kmedoids, ppp, index = figure.subplots(2, 2).ravel()

    rows = results.get("peers", [])
    if rows:
        ratios = [row["peer_s"] / row["vecclust_s"] for row in rows]
        bars = speed.barh([row["task"] for row in rows], ratios, color="tab:blue")
        speed.bar_label(bars, labels=[f"{r:.1f}x" for r in ratios], padding=3, fontsize="small")
        speed.axvline(1.0, color="black", linewidth=0.8)
        speed.set_xscale("log")
        speed.set_xlim(min(0.5, min(ratios) / 2), max(2.0, 3 * max(ratios)))  # room for the labels
        speed.invert_yaxis()
    speed.set_xlabel("time scikit-learn / time vecclust (> 1: vecclust faster)")
    speed.set_title("speed against scikit-learn (same start)", fontsize="medium")

    rows = results.get("digits", [])
    if rows:
        names = [f"{row['method']} ({row['init']})" for row in rows]
        bars = kmedoids.barh(names, [row["time_s"] for row in rows], color="tab:green")
        kmedoids.bar_label(bars, labels=[f"ARI {row['ari']:.2f}" for row in rows], padding=3, fontsize="small")
        kmedoids.invert_yaxis()
    kmedoids.set_xlabel("fit time [s]")
    kmedoids.set_title("k-medoids on the digits (k = 10)", fontsize="medium")

    rows = results.get("ppp", [])
    if rows:
        bars = ppp.barh([row["data"] for row in rows], [row["ari"] for row in rows], color="tab:orange")
        ppp.bar_label(bars, labels=[f"k = {row['k_found']} / {row['k_true']}" for row in rows], padding=3,
                      fontsize="small")
        ppp.set_xlim(0, 1.25)
        ppp.invert_yaxis()
    ppp.set_xlabel("adjusted Rand index (k found / true k at the bar)")
    ppp.set_title("PPP: clusters found without being told k", fontsize="medium")

    rows = results.get("index", [])
    if rows:
        bars = index.barh([f"tenant {row['tenant']} ({row['vectors']} vectors)" for row in rows],
                          [row["latency_us"] for row in rows], color="tab:purple")
        index.bar_label(bars, labels=[f"recall@10 {row['recall']:.3f}" for row in rows], padding=3, fontsize="small")
        index.set_xlim(0, 1.4 * max(row["latency_us"] for row in rows))
        index.invert_yaxis()
    index.set_xlabel("latency of a one-query call [µs]")
    index.set_title("multi-tenant index, default budget", fontsize="medium")
    figure.savefig(path)
