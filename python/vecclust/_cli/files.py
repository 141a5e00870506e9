"""Reading data files (.npy, comma-separated text) and writing label files for `vecclust cluster`."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .common import CLIError

TEXT_SUFFIXES = (".csv", ".txt")


def load_matrix(path: Path) -> np.ndarray:
    """A 2-d float array from .npy (float32 stays float32) or comma-separated text."""
    if not path.exists():
        raise CLIError(f"{path}: no such file")
    if path.is_dir():
        raise CLIError(f"{path}: is a directory")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        data = load_npy(path)
    elif suffix in TEXT_SUFFIXES:
        data = load_text(path)
    else:
        raise CLIError(f"{path}: unsupported file type {path.suffix!r}; use .npy or .csv")

    data = as_float(data, path)
    if data.ndim != 2:
        raise CLIError(f"{path}: expected a 2-d array (samples x features), got shape {data.shape}")
    if data.size == 0:
        raise CLIError(f"{path}: the array is empty (shape {data.shape})")
    return data


def load_npy(path: Path) -> np.ndarray:
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise CLIError(f"{path}: cannot read as .npy: {exc}") from None
    if not isinstance(data, np.ndarray):
        raise CLIError(f"{path}: expected a single array")
    return data


def as_float(data: np.ndarray, path: Path) -> np.ndarray:
    """Integers become float64; float16 and float32 of either byte order native float32, wider floats float64."""
    if data.dtype.kind in "biu":
        return data.astype(np.float64)
    if data.dtype.kind != "f":
        raise CLIError(f"{path}: expected a numeric array, got dtype {data.dtype}")
    native = np.float32 if data.dtype.itemsize <= 4 else np.float64
    return data if data.dtype == native else data.astype(native)


def load_text(path: Path) -> np.ndarray:
    """Comma-separated numbers; a first line that does not parse as numbers is a header."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CLIError(f"{path}: cannot read: {exc}") from None
    first = next((i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")), None)
    if first is None:
        raise CLIError(f"{path}: contains no data")
    skip = 0
    try:
        [float(field) for field in lines[first].split(",")]
    except ValueError:
        skip = first + 1  # a header line
    body = lines[skip:]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data" is reported below
            data = np.loadtxt(body, delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise CLIError(f"{path}: cannot parse as comma-separated numbers: {exc}") from None
    if data.size == 0:
        raise CLIError(f"{path}: contains no data" + (" after the header line" if skip else ""))
    return data


def save_labels(labels: np.ndarray, out: Path) -> None:
    """int64 labels: one per line if `out` ends in .csv or .txt, else .npy under exactly that name."""
    labels = np.asarray(labels, dtype=np.int64)
    try:
        if out.suffix.lower() in TEXT_SUFFIXES:
            np.savetxt(out, labels, fmt="%d")
        else:
            with open(out, "wb") as handle:  # np.save would append .npy to the name
                np.save(handle, labels)
    except OSError as exc:
        raise CLIError(f"cannot write {out}: {exc.strerror or exc}") from None
