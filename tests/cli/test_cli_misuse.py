"""Every misuse of the command line: one line `vecclust: error: ...` on stderr, exit status 2."""

import numpy as np
import pytest

from strategies import separated_blobs
from vecclust._cli import main

# (arguments, a part of the message); DATA, NAN, OUT and DIR stand for paths.
MISUSES = [
    ([], "no command given"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["cluster"], "required: FILE, --out"),
    (["cluster", "DATA", "-k", "3"], "required: --out"),
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--init", "bogus"], "'bogus' is neither an initialisation"),
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--init", "1,x"], "neither an initialisation"),
    (["cluster", "DATA", "-k", "three", "--out", "OUT"], "invalid int value: 'three'"),
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--method", "kmedians"], "invalid choice: 'kmedians'"),
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["cluster", "DATA", "--out", "OUT"], "-k is required for --method fasterpam"),
    (["cluster", "DATA", "-k", "3", "--method", "ppp", "--out", "OUT"], "do not give -k"),
    (["cluster", "DATA", "-k", "3", "--method", "dynmsc", "--out", "OUT"],
     "--method dynmsc finds the number of clusters itself: do not give -k"),
    (["cluster", "DATA", "-k", "3", "--max-clusters", "5", "--out", "OUT"],
     "--max-clusters does not apply to --method fasterpam (only to dynmsc)"),
    (["cluster", "DATA", "--method", "dynmsc", "--max-clusters", "500", "--out", "OUT"],
     "max_clusters=500 must be <= n_samples"),
    (["cluster", "DATA", "--method", "dynmsc", "--min-clusters", "5", "--max-clusters", "4", "--out", "OUT"],
     "min_clusters=5 must be <= max_clusters=4"),
    (["cluster", "DATA", "--method", "dynmsc", "--min-clusters", "1", "--out", "OUT"], "min_clusters"),
    (["cluster", "DATA", "--method", "dynmsc", "--init", "0,1,2", "--out", "OUT"],
     "init gives 3 medoid indices but max_clusters=10"),
    (["cluster", "DATA", "-k", "0", "--out", "OUT"], "n_clusters"),
    (["cluster", "DATA", "-k", "500", "--out", "OUT"], "n_clusters"),
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--n-threads", "0"], "--n-threads 0 is not allowed"),
    # Options that do not apply to the method.
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--n-sampling", "50"],
     "--n-sampling does not apply to --method fasterpam (only to clara)"),
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--n-local", "3", "--method", "pam"],
     "--n-local does not apply to --method pam"),
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--max-fit-samples", "9", "--method", "clara"],
     "--max-fit-samples does not apply to --method clara"),
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--covariance-type", "diag"], "--covariance-type does not apply"),
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--verbose"], "--verbose does not apply to --method fasterpam"),
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--init", "build", "--method", "clarans"],
     "--init does not apply to --method clarans"),
    (["cluster", "DATA", "--out", "OUT", "--method", "ppp", "--seed", "1"], "--seed does not apply to --method ppp"),
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--n-init", "2", "--method", "clara"], "--n-init does not apply"),
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--init", "k-means++", "--method", "fasterpam"],
     "--init k-means++ is not an initialisation of --method fasterpam"),
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--init", "build", "--method", "kmeans"],
     "--init build is not an initialisation of --method kmeans"),
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--init", "0,1,2", "--method", "clara"], "row indices"),
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--init", "0,1,2", "--method", "gmm"], "row indices"),
    # Metrics.
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--metric", "cosine", "--method", "kmeans"], "euclidean"),
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--metric", "manhattan", "--method", "gmm"], "euclidean"),
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--metric", "cosine", "--precomputed"], "conflicts"),
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--precomputed"], "square dissimilarity matrix"),
    (["cluster", "DATA", "-k", "3", "--out", "OUT", "--metric", "hamming"], "invalid choice: 'hamming'"),
    # Files.
    (["cluster", "DIR/missing.npy", "-k", "3", "--out", "OUT"], "no such file"),
    (["cluster", "DIR", "-k", "3", "--out", "OUT"], "is a directory"),
    (["cluster", "DIR/X.parquet", "-k", "3", "--out", "OUT"], "unsupported file type '.parquet'"),
    (["cluster", "NAN", "-k", "3", "--out", "OUT"], "row 2, column 1, counted from 0"),
    (["cluster", "DATA", "-k", "3", "--out", "DIR/l.xyz"], "unknown extension '.xyz'"),
    (["cluster", "DATA", "-k", "3", "--out", "DIR/labels"], "no extension"),
    (["cluster", "DATA", "-k", "3", "--out", "DIR"], "is a directory"),
    (["cluster", "DATA", "-k", "3", "--out", "DIR/nowhere/l.npy"], "does not exist"),
]


@pytest.fixture
def paths(tmp_path):
    X, _ = separated_blobs(10, seed=0)
    np.save(tmp_path / "X.npy", X)
    with_nan = X.copy()
    with_nan[2, 1] = np.nan
    np.save(tmp_path / "nan.npy", with_nan)
    (tmp_path / "X.parquet").write_bytes(b"")
    return {"DATA": tmp_path / "X.npy", "NAN": tmp_path / "nan.npy", "OUT": tmp_path / "l.npy", "DIR": tmp_path}


def substitute(arg: str, paths: dict) -> str:
    for name, path in paths.items():
        if arg == name or arg.startswith(name + "/"):
            return str(path) + arg[len(name):]
    return arg


@pytest.mark.parametrize("args, message", MISUSES, ids=[" ".join(a) or "no-args" for a, _ in MISUSES])
def test_misuse_is_one_line_and_status_2(paths, capsys, monkeypatch, args, message):
    monkeypatch.setenv("COLUMNS", "80")  # argparse would wrap a usage text at this width
    code = main([substitute(a, paths) for a in args])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("vecclust: error: ") and message in lines[0], lines[0]
    assert captured.out == ""
    assert not paths["OUT"].exists()
