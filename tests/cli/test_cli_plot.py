"""`--plot`: `vecclust cluster` and `vecclust demo` write valid PNG files; misuse is one line."""

import struct
import sys

import numpy as np
import pytest

from strategies import separated_blobs
from vecclust._cli import main
from vecclust._cli.plots import MAX_POINTS, demo_figure, principal_plane

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    """(width, height) from the PNG header, after checking the signature and that the image decodes."""
    from matplotlib.image import imread

    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    pixels = imread(path)
    assert pixels.shape[:2] == (height, width) and pixels.std() > 0  # decodes, and is not blank
    return width, height


@pytest.mark.parametrize("method", ["fasterpam", "clara", "kmeans", "gmm", "ppp"])
@pytest.mark.parametrize("n_features", [2, 5])
def test_cluster_plot_is_a_png(tmp_path, capsys, method, n_features):
    X, _ = separated_blobs(30, seed=1)
    noise = np.random.default_rng(1).normal(size=(len(X), 2))
    X = X[:, :2] if n_features == 2 else np.hstack([X, noise])
    np.save(tmp_path / "X.npy", X)
    k = [] if method == "ppp" else ["-k", "4"]
    plot = tmp_path / "clusters.png"
    status = main(["cluster", str(tmp_path / "X.npy"), *k, "--method", method, "--out", str(tmp_path / "l.npy"),
                   "--plot", str(plot)])
    assert status == 0
    assert f"plot written to {plot}" in capsys.readouterr().out
    assert png_size(plot) == (700, 600)


def test_principal_plane_is_that_of_the_covariance():
    # Oracle: the eigenvectors of the covariance with the two largest eigenvalues, up to sign.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4)) * [5.0, 0.3, 2.0, 1.0] + 10.0
    mean, axes, name = principal_plane(X)
    values, vectors = np.linalg.eigh(np.cov(X, rowvar=False))
    top = vectors[:, np.argsort(values)[::-1][:2]].T
    np.testing.assert_allclose(np.abs(axes @ top.T), np.eye(2), atol=1e-9)
    np.testing.assert_allclose(mean, X.mean(axis=0))
    assert name == "principal component" and (axes[:, 0] >= 0).all()  # signs fixed
    mean, axes, name = principal_plane(X[:, :2])
    np.testing.assert_array_equal(axes, np.eye(2))
    assert name == "column"


def test_cluster_plot_of_many_points_draws_a_subset(tmp_path, capsys):
    X = np.random.default_rng(0).normal(size=(MAX_POINTS + 7, 3)).astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    plot = tmp_path / "p.png"
    assert main(["cluster", str(tmp_path / "X.npy"), "-k", "3", "--method", "kmeans", "--out",
                 str(tmp_path / "l.npy"), "--plot", str(plot)]) == 0
    png_size(plot)


@pytest.mark.parametrize("plot, extra, message", [
    ("p.jpg", [], "the plot is a PNG file; give a name ending in .png"),
    ("missing/p.png", [], "does not exist"),
    ("p.png", ["--precomputed"], "a precomputed dissimilarity matrix has no coordinates to draw"),
])
def test_cluster_plot_misuse_is_one_line(tmp_path, capsys, plot, extra, message):
    X, _ = separated_blobs(5, seed=2)
    np.save(tmp_path / "X.npy", X)
    out = tmp_path / "l.npy"
    assert main(["cluster", str(tmp_path / "X.npy"), "-k", "2", "--out", str(out), "--plot",
                 str(tmp_path / plot), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("vecclust: error: ") and message in err
    assert not out.exists()  # refused before any work


@pytest.mark.parametrize("command", [["cluster", "X.npy", "-k", "2", "--out", "l.npy"], ["demo"]])
def test_plot_without_matplotlib_is_one_line(tmp_path, capsys, monkeypatch, command):
    X, _ = separated_blobs(5, seed=2)
    np.save(tmp_path / "X.npy", X)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert main([*command, "--plot", "p.png"]) == 2
    captured = capsys.readouterr()
    assert captured.err == "vecclust: error: --plot needs matplotlib, which is not installed (pip install matplotlib)\n"
    assert captured.out == "" and not (tmp_path / "p.png").exists() and not (tmp_path / "l.npy").exists()


def test_demo_figure_is_a_png(tmp_path):
    results = {
        "peers": [dict(task="k-means", vecclust_s=0.01, peer_s=0.05), dict(task="silhouette", vecclust_s=0.2,
                                                                          peer_s=0.1)],
        "digits": [dict(method="fasterpam", init="build", loss=1.0, ari=0.7, time_s=0.02)],
        "ppp": [dict(data="blobs", k_true=3, k_found=3, ari=1.0, time_s=0.1)],
        "index": [dict(tenant=0, vectors=100, recall=0.99, latency_us=40.0)],
    }
    demo_figure(results, tmp_path / "demo.png")
    assert png_size(tmp_path / "demo.png") == (1300, 900)
    demo_figure({}, tmp_path / "empty.png")  # a section without results leaves its panel empty
    png_size(tmp_path / "empty.png")


def test_demo_plot_draws_every_section(tmp_path, capsys, monkeypatch):
    # The real demo with each section's work replaced by a stub that records what it was given.
    from vecclust._cli import demo

    calls = []
    rows = {"digits": [dict(method="pam", init="build", loss=2.0, ari=0.5, time_s=0.3)], "peers": [],
            "ppp": [], "index": [dict(tenant=1, vectors=10, recall=1.0, latency_us=5.0)]}
    sections = [demo.DemoSection(s.title, lambda args, key=s.key: calls.append(key) or rows[key], s.about, s.key)
                for s in demo.DEMO_SECTIONS]
    monkeypatch.setattr(demo, "DEMO_SECTIONS", sections)
    plot = tmp_path / "demo.png"
    assert main(["demo", "--plot", str(plot)]) == 0
    assert calls == list(rows) and f"plot written to {plot}" in capsys.readouterr().out
    png_size(plot)
