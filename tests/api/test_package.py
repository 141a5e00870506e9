"""Package metadata: the licence file matches pyproject, the public names exist."""

import tomllib
from pathlib import Path

import vecclust

ROOT = Path(__file__).resolve().parents[2]


def test_license_file_matches_the_declared_license():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "BSD-3-Clause" and project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("BSD 3-Clause License") and "the vecclust developers" in text
    assert {"Homepage", "Source", "Issues"} <= set(project["urls"])
    assert "Typing :: Typed" in project["classifiers"]


def test_every_public_name_is_exported():
    assert all(hasattr(vecclust, name) for name in vecclust.__all__)
    # Raised by MultiTenantIndex.load and save; a corrupt file's error is a ValueError too.
    assert "IndexIOError" in vecclust.__all__ and issubclass(vecclust.IndexIOError, Exception)
