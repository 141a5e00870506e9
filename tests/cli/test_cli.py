"""The `vecclust` command line: k-medoids through `cluster`, file formats, help texts."""

import numpy as np
import pytest

from strategies import separated_blobs
from vecclust import KMedoids
from vecclust._cli import DEMO_SECTIONS, main
from vecclust._cli.cluster import METHODS
from vecclust._kmedoids.choices import METHODS as KMEDOIDS_METHODS


def test_cluster_kmedoids_csv_with_header(tmp_path, capsys):
    X, _ = separated_blobs(20, seed=2)
    path = tmp_path / "X.csv"
    with open(path, "w") as handle:
        handle.write("a,b,c\n")
        np.savetxt(handle, X, delimiter=",")
    out = tmp_path / "labels.txt"
    assert main(["cluster", str(path), "-k", "4", "--init", "build", "--method", "pam", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    expected = KMedoids(4, method="pam", init="build", random_state=0).fit(np.loadtxt(path, delimiter=",", skiprows=1))
    np.testing.assert_array_equal(np.loadtxt(out, dtype=np.int64), expected.labels_)
    assert "medoids: " + " ".join(map(str, expected.medoid_indices_)) in printed


def test_cluster_keeps_float32_npy(tmp_path, capsys):
    X, _ = separated_blobs(20, seed=3, dtype=np.float32)
    np.save(tmp_path / "X.npy", X)
    assert main(["cluster", str(tmp_path / "X.npy"), "-k", "4", "--out", str(tmp_path / "l.npy")]) == 0
    assert "float32" in capsys.readouterr().out
    np.testing.assert_array_equal(np.load(tmp_path / "l.npy"), KMedoids(4, random_state=0).fit(X).labels_)


@pytest.mark.parametrize("content, message", [
    ("1 2\n3 4\n", "cannot parse as comma-separated numbers"),
    ("a,b\n", "contains no data after the header line"),
    ("", "contains no data"),
])
def test_cluster_bad_text_files(tmp_path, capsys, content, message):
    (tmp_path / "X.txt").write_text(content)
    assert main(["cluster", str(tmp_path / "X.txt"), "-k", "2", "--out", str(tmp_path / "l.npy")]) == 2
    assert message in capsys.readouterr().err


def test_help_names_every_method_and_demo_section(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "10000")  # no line breaks inside names
    assert set(KMEDOIDS_METHODS) < set(METHODS)
    with pytest.raises(SystemExit):
        main(["cluster", "--help"])
    cluster_help = capsys.readouterr().out
    assert all(method in cluster_help for method in METHODS)
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    demo_help = capsys.readouterr().out
    assert all(section.about in demo_help for section in DEMO_SECTIONS)
