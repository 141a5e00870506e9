"""The README's examples run as pasted: its python blocks, in order, in one namespace."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def python_blocks() -> list[str]:
    return BLOCK.findall(README.read_text(encoding="utf-8"))


def test_readme_has_examples():
    assert len(python_blocks()) >= 6


def test_readme_blocks_run_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the index example saves a file
    namespace: dict = {}
    for number, block in enumerate(python_blocks(), 1):
        try:
            exec(compile(block, f"README.md python block {number}", "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 - name the block that failed
            pytest.fail(f"README python block {number} raised {type(exc).__name__}: {exc}")
    # What the comments of the examples say.
    ns = namespace
    assert ns["adjusted_rand_score"](ns["y"], ns["km"].labels_) == 1.0
    assert ns["ppp"].n_clusters_ == 20 and ns["adjusted_rand_score"](ns["y"], ns["ppp"].labels_) == 1.0
    assert sorted(ns["ids"][0][:3]) == [3, 4, 5] and (ns["ids"][0][3:] == -1).all()
