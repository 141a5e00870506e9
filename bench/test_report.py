"""report.py: the speed-ratio rows it draws, and the figure (a valid PNG), from a made-up file."""

import json

import pytest
import report


def entry(median, **info):
    return {"stats": {"median": median, "rounds": 3}, "extra_info": info}


BENCHMARKS = [
    entry(2.0, bench="fasterpam", library="kmedoids", n=2000, k=10, threads="1", loss=5.0),
    entry(0.5, bench="fasterpam", library="vecclust", n=2000, k=10, threads="1", loss=5.0),
    entry(3.0, bench="kmeans", library="sklearn", variant="blobs", n=100, k=5, threads="1"),
    entry(1.5, bench="kmeans", library="vecclust", variant="blobs", n=100, k=5, threads="1"),
    entry(9.0, bench="kmeans", library="sklearn", variant="diffuse", n=100, k=5, threads="1"),  # no vecclust row
    entry(6.0, bench="ppp_timing", method="GMM-BIC", n=500, k=3),
    entry(0.5, bench="ppp_timing", method="PPP", n=500, k=3),
    entry(4.0, bench="clara_quality", method="fasterpam", dataset="blobs", n=20, k=2, threads="all"),
    entry(0.25, bench="clara_quality", method="clara", label="CLARA", dataset="blobs", n=20, k=2, threads="all"),
]


def test_speed_ratio_rows_pair_each_row_with_its_peer():
    rows = report.speed_ratio_rows({"benchmarks": BENCHMARKS}, report.load_data({"benchmarks": BENCHMARKS}))
    assert rows == [
        ("FasterPAM vs kmedoids", "n=2000 k=10 threads=1", 4.0),
        ("KMeans vs sklearn", "blobs n=100 k=5 threads=1", 2.0),
        ("PPP vs GMM-BIC sweep", "n=500 true k=3", 12.0),
        ("CLARA/CLARANS vs full FasterPAM", "CLARA blobs threads=all", 16.0),
    ]


def test_report_writes_the_figure(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"benchmarks": BENCHMARKS[:2]}))  # the rows whose tables need no more fields
    plot = tmp_path / "ratios.png"
    assert report.main([str(path), "--plot", str(plot)]) == 0
    assert "| 2000 | 10 | 1 |" in capsys.readouterr().out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 5000
    assert report.main([str(path), "--plot", str(tmp_path / "none.png"), "--no-plot"]) == 0
    assert not (tmp_path / "none.png").exists()
