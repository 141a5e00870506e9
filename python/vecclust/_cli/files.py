"""Reading data files (.npy, comma-separated text) and writing label files for `vecclust cluster`."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .common import CLIError

TEXT_SUFFIXES = (".csv", ".txt")


def load_matrix(path: Path) -> np.ndarray:
    """A 2-d float array from .npy (float32 stays float32) or text (comma- or whitespace-separated)."""
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
        raise CLIError(f"{path}: unsupported file type {path.suffix!r}; use .npy, .csv or .txt")

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
    """Numbers separated by commas or by whitespace (told by the first data line); a first line
    that does not parse as numbers is a header. Lines starting with # are comments."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CLIError(f"{path}: cannot read: {exc}") from None
    content = [i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
    if not content:
        raise CLIError(f"{path}: contains no data")
    header = not numbers_only(lines[content[0]], delimiter_of(lines[content[0]]))
    data_lines = content[1:] if header else content
    if not data_lines:
        raise CLIError(f"{path}: contains no data after the header line")
    delimiter = delimiter_of(lines[data_lines[0]])
    body = [lines[i] for i in data_lines]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.loadtxt(body, delimiter=delimiter, ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise CLIError(f"{path}: {first_bad_field(lines, data_lines, delimiter) or exc}") from None


def delimiter_of(line: str) -> str | None:
    """"," for comma-separated values, None (any whitespace) otherwise."""
    return "," if "," in line else None


def numbers_only(line: str, delimiter: str | None) -> bool:
    try:
        [float(field) for field in line.split(delimiter)]
    except ValueError:
        return False
    return True


def first_bad_field(lines: list[str], data_lines: list[int], delimiter: str | None) -> str | None:
    """Where the text stops being a table of numbers, as file line and field, both counted from 1."""
    kind = "comma-separated" if delimiter else "whitespace-separated"
    width = len(lines[data_lines[0]].split(delimiter))
    for i in data_lines:
        fields = lines[i].split(delimiter)
        for column, field in enumerate(fields, 1):
            try:
                float(field)
            except ValueError:
                return f"line {i + 1}, field {column}: {field.strip()!r} is not a number ({kind} values expected)"
        if len(fields) != width:
            return (f"line {i + 1} has {len(fields)} fields, but line {data_lines[0] + 1} has {width} "
                    f"({kind} values)")
    return None


# --out: the label file formats, by extension.
NPY_SUFFIX = ".npy"
OUT_SUFFIXES = (NPY_SUFFIX, *TEXT_SUFFIXES)


def check_out(out: Path) -> None:
    """--out must name a file of a known format in an existing directory; checked before any work."""
    if out.is_dir():
        raise CLIError(f"--out {out} is a directory")
    if out.suffix.lower() not in OUT_SUFFIXES:
        what = f"unknown extension {out.suffix!r}" if out.suffix else "no extension"
        raise CLIError(f"--out {out}: {what}; use {', '.join(OUT_SUFFIXES)} (text: one label per line)")
    if not out.parent.is_dir():
        raise CLIError(f"--out {out}: directory {out.parent} does not exist")


def save_labels(labels: np.ndarray, out: Path) -> None:
    """int64 labels: .npy, or text (one per line) for .csv and .txt."""
    labels = np.asarray(labels, dtype=np.int64)
    try:
        if out.suffix.lower() in TEXT_SUFFIXES:
            np.savetxt(out, labels, fmt="%d")
        else:
            with open(out, "wb") as handle:  # np.save would append .npy to a different name
                np.save(handle, labels)
    except OSError as exc:
        raise CLIError(f"cannot write {out}: {exc.strerror or exc}") from None
