"""Summarise a pytest-benchmark JSON file of the vecclust benchmarks as markdown tables.

    python bench/report.py bench.json

For every (n, k, threads) the ratio median time of kmedoids / median time of vecclust (> 1 means
vecclust is faster), the medians themselves and both losses; then the same for the end-to-end
pipeline (sklearn pairwise_distances + kmedoids.fasterpam vs vecclust.KMedoids.fit). The ratios
are what to quote: the absolute times depend on the (shared, noisy) machine.
"""

from __future__ import annotations

import argparse
import json
import sys

LIBRARIES = ("vecclust", "kmedoids")
THREAD_ORDER = {"1": 0, "all": 1}


def load(path):
    with open(path) as f:
        data = json.load(f)
    rows = {}  # (bench, n, k, threads) -> {library: (median, rounds, extra_info)}
    for b in data.get("benchmarks", []):
        info = b.get("extra_info", {})
        if info.get("bench") not in ("fasterpam", "end_to_end") or info.get("library") not in LIBRARIES:
            continue
        key = (info["bench"], int(info["n"]), int(info["k"]), str(info["threads"]))
        rows.setdefault(key, {})[info["library"]] = (b["stats"]["median"], b["stats"]["rounds"], info)
    return data, rows


def fmt_time(entry):
    return "—" if entry is None else f"{entry[0]:.4f} ({entry[1]})"


def fmt_loss(entry):
    return "—" if entry is None else f"{entry[2]['loss']:.10g}"


def ratio_and_diff(libs):
    vc, km = libs.get("vecclust"), libs.get("kmedoids")
    ratio = f"**{km[0] / vc[0]:.2f}**" if vc and km and vc[0] > 0 else "—"
    if vc and km:
        diff = (km[2]["loss"] - vc[2]["loss"]) / vc[2]["loss"]
    else:  # one side missing: fall back to the loss the benchmark recorded for the other library
        info = (vc or km)[2]
        diff = info.get("rel_loss_diff")
    return ratio, "—" if diff is None else f"{diff:.2e}"


def table(rows, bench, title, km_label):
    keys = sorted((key for key in rows if key[0] == bench), key=lambda t: (t[1], t[2], THREAD_ORDER.get(t[3], 9)))
    if not keys:
        return []
    out = [
        f"### {title}",
        "",
        f"| n | k | threads | {km_label} median s (rounds) | vecclust median s (rounds) "
        f"| ratio {km_label} / vecclust | loss {km_label} | loss vecclust | rel. loss diff |",
        "|---:|---:|:---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key in keys:
        libs = rows[key]
        ratio, diff = ratio_and_diff(libs)
        km, vc = libs.get("kmedoids"), libs.get("vecclust")
        out.append(f"| {key[1]} | {key[2]} | {key[3]} | {fmt_time(km)} | {fmt_time(vc)} | {ratio} "
                   f"| {fmt_loss(km)} | {fmt_loss(vc)} | {diff} |")
    return out + [""]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="the file written by pytest --benchmark-json")
    args = parser.parse_args(argv)
    data, rows = load(args.json)
    if not rows:
        print(f"no vecclust benchmark results in {args.json}", file=sys.stderr)
        return 1
    machine = data.get("machine_info", {})
    cpu = machine.get("cpu", {})
    commit = data.get("commit_info", {})
    print(f"Benchmarks of {data.get('datetime', '?')} on {cpu.get('brand_raw', '?')} "
          f"({cpu.get('count', '?')} CPUs), Python {machine.get('python_version', '?')}, "
          f"commit {str(commit.get('id', '?'))[:10]}{' (dirty)' if commit.get('dirty') else ''}.")
    print("Ratio > 1: vecclust is faster. threads=all: kmedoids scans in a shuffled order, so its loss may differ.")
    print()
    lines = table(rows, "fasterpam", "FasterPAM on a precomputed float32 distance matrix (same initial medoids)",
                  "kmedoids")
    lines += table(rows, "end_to_end", "End to end from float32 features (euclidean): "
                   "sklearn pairwise_distances + kmedoids.fasterpam vs vecclust.KMedoids.fit", "sklearn+kmedoids")
    print("\n".join(lines).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
