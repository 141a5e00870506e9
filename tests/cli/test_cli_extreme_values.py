"""The command line over the float32 range: data around 1e19 used to print loss=inf and exit 0."""

import re

import numpy as np
import pytest

from strategies import separated_blobs
from vecclust import KMedoids
from vecclust._cli import main


def test_float32_near_1e19_gives_a_finite_loss_and_the_right_clusters(tmp_path, capsys):
    X, _ = separated_blobs(20, seed=2, dtype=np.float32)
    big = (X * np.float32(1e19)).astype(np.float32)
    np.save(tmp_path / "X.npy", big)
    assert main(["cluster", str(tmp_path / "X.npy"), "-k", "4", "--out", str(tmp_path / "l.npy")]) == 0
    printed = capsys.readouterr().out
    loss = float(re.search(r"loss=(\S+)", printed).group(1))
    reference = KMedoids(4, random_state=0).fit(X)
    assert np.isfinite(loss) and loss == pytest.approx(reference.inertia_ * 1e19, rel=1e-5)
    np.testing.assert_array_equal(np.load(tmp_path / "l.npy"), reference.labels_)


def test_huge_integers_are_one_line_without_the_data(tmp_path, capsys):
    X, _ = separated_blobs(20, seed=2)
    np.save(tmp_path / "X.npy", X)
    assert main(["cluster", str(tmp_path / "X.npy"), "-k", str(2**63), "--out", str(tmp_path / "l.npy")]) == 2
    error = capsys.readouterr().err
    assert "n_clusters" in error and "array(" not in error and len(error.strip().splitlines()) == 1
