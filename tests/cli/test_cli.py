"""The `vecclust` command line: k-medoids through `cluster`, file formats, help texts."""

import numpy as np
import pytest

from strategies import separated_blobs
from vecclust import GaussianMixture, KMedoids
from vecclust._cli import DEMO_SECTIONS, main
from vecclust._cli.options import METHODS
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


@pytest.mark.parametrize("header", ["", "x y z\n", "# a comment\n"])
@pytest.mark.parametrize("separator", [" ", "\t", ",", ", "])
def test_text_files_with_and_without_a_header(tmp_path, capsys, header, separator):
    # An all-numeric first line is data, whatever the separator.
    X, _ = separated_blobs(10, seed=4)
    rows = "".join(separator.join(repr(float(v)) for v in row) + "\n" for row in X)
    path = tmp_path / "X.txt"
    path.write_text(header.replace(" ", separator.strip() or separator) + rows)
    out = tmp_path / "l.npy"
    assert main(["cluster", str(path), "-k", "4", "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"n={len(X)} ")
    np.testing.assert_array_equal(np.load(out), KMedoids(4, random_state=0).fit(X).labels_)


@pytest.mark.parametrize("content, message", [
    ("a,b\n", "contains no data after the header line"),
    ("", "contains no data"),
    ("# only a comment\n", "contains no data"),
    # Lines and fields are both counted from 1, as in an editor.
    ("1,2,3\n4,5,x\n", "line 2, field 3: 'x' is not a number"),
    ("a,b,c\n1,2,3\n4,5,6\n7,,9\n", "line 4, field 2: '' is not a number"),
    ("1 2 3\n4 5\n", "line 2 has 2 fields, but line 1 has 3"),
    ("h\n1,2\n3,4,5\n", "line 3 has 3 fields, but line 2 has 2"),
])
def test_cluster_bad_text_files(tmp_path, capsys, content, message):
    (tmp_path / "X.csv").write_text(content)
    assert main(["cluster", str(tmp_path / "X.csv"), "-k", "2", "--out", str(tmp_path / "l.npy")]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".npy", ".csv", ".txt", ".NPY"])
def test_label_format_follows_the_extension(tmp_path, capsys, suffix):
    X, _ = separated_blobs(10, seed=5)
    np.save(tmp_path / "X.npy", X)
    out = tmp_path / f"labels{suffix}"
    assert main(["cluster", str(tmp_path / "X.npy"), "-k", "4", "--out", str(out)]) == 0
    expected = KMedoids(4, random_state=0).fit(X).labels_
    labels = np.load(out) if suffix.lower() == ".npy" else np.loadtxt(out, dtype=np.int64)
    np.testing.assert_array_equal(labels, expected)


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
    with pytest.raises(SystemExit):
        main(["--help"])
    main_help = capsys.readouterr().out
    assert all(method in main_help.lower() for method in METHODS if method not in ("kmeans", "gmm"))
    assert all(name in main_help for name in ("k-means", "Gaussian mixture", "PPP", "multi-tenant vector index"))
    # Every option says which methods it applies to.
    for flag in ("--n-sampling", "--n-local", "--max-fit-samples", "--covariance-type"):
        assert flag in cluster_help


def test_cluster_gmm(tmp_path, capsys):
    X, y = separated_blobs(30, seed=6)
    np.save(tmp_path / "X.npy", X)
    out = tmp_path / "labels.npy"
    assert main(["cluster", str(tmp_path / "X.npy"), "-k", "4", "--method", "gmm", "--covariance-type", "diag",
                 "--seed", "1", "--out", str(out)]) == 0
    expected = GaussianMixture(4, covariance_type="diag", random_state=1).fit(X)
    np.testing.assert_array_equal(np.load(out), expected.predict(X))
    assert f"lower bound={expected.lower_bound_:.6g}" in capsys.readouterr().out


def test_cluster_dynmsc_prints_the_chosen_k(tmp_path, capsys):
    X, _ = separated_blobs(25, seed=7)  # 4 separated blobs
    np.save(tmp_path / "X.npy", X)
    out = tmp_path / "labels.npy"
    assert main(["cluster", str(tmp_path / "X.npy"), "--method", "dynmsc", "--min-clusters", "3",
                 "--max-clusters", "7", "--init", "build", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    expected = KMedoids("auto", min_clusters=3, max_clusters=7, init="build", random_state=0).fit(X)
    assert expected.n_clusters_ == 4
    np.testing.assert_array_equal(np.load(out), expected.labels_)
    assert f"chosen k=4 medoid silhouette={expected.silhouettes_[1]:.6g}" in printed
    assert "medoid silhouette by k: " + " ".join(f"{k}:{s:.4f}" for k, s in zip(range(3, 8), expected.silhouettes_)) \
        in printed
    assert "medoids: " + " ".join(map(str, expected.medoid_indices_)) in printed


def test_cluster_silhouette_methods(tmp_path, capsys):
    X, _ = separated_blobs(10, seed=8)
    np.save(tmp_path / "X.npy", X)
    for method, name in (("fastmsc", "medoid silhouette"), ("pamsil", "silhouette")):
        assert main(["cluster", str(tmp_path / "X.npy"), "-k", "4", "--method", method, "--out",
                     str(tmp_path / "l.npy")]) == 0
        expected = KMedoids(4, method=method, random_state=0).fit(X)
        assert f"k=4 {name}={expected.silhouettes_[0]:.6g} " in capsys.readouterr().out
        np.testing.assert_array_equal(np.load(tmp_path / "l.npy"), expected.labels_)
