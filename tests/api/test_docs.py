"""The documentation's API reference lists every public name; its pages and figures exist.

A fast check without Sphinx; CI builds the documentation itself with warnings as errors.
"""

import re
from pathlib import Path

import pytest

import vecclust

DOCS = Path(__file__).resolve().parents[2] / "docs"


def documented_names() -> dict[str, set[str]]:
    """module -> the names its autosummary tables in api.rst list."""
    names: dict[str, set[str]] = {}
    module = None
    in_table = False
    for line in (DOCS / "api.rst").read_text(encoding="utf-8").splitlines():
        if match := re.match(r"\.\. currentmodule:: (\S+)", line):
            module = match.group(1)
        elif line.startswith(".. autosummary::"):
            in_table = True
        elif in_table and line.startswith("   ") and not line.strip().startswith(":"):
            names.setdefault(module, set()).add(line.strip())
        elif line.strip() and not line.startswith(" "):
            in_table = False
    return names


def test_api_reference_lists_every_public_name():
    import vecclust.dask

    documented = documented_names()
    for module in (vecclust, vecclust.dask):
        public = set(module.__all__) - {"__version__"}
        listed = documented.get(module.__name__, set())
        assert public - listed == set(), f"public names of {module.__name__} missing from docs/api.rst"
        assert listed - public == set(), f"docs/api.rst lists names {module.__name__} does not export"
    assert ".. data:: vecclust.__version__" in (DOCS / "api.rst").read_text(encoding="utf-8")


def test_every_page_in_the_toctree_and_every_figure_exist():
    index = (DOCS / "index.rst").read_text(encoding="utf-8")
    pages = re.findall(r"^   (\S+)$", index, re.MULTILINE)
    assert "api" in pages and len(pages) >= 8
    for page in pages:
        assert (DOCS / f"{page}.rst").is_file(), page
    on_disk = {p.relative_to(DOCS).with_suffix("").as_posix() for p in DOCS.rglob("*.rst")
               if not {"generated", "_build", "_templates"} & set(p.parts)}
    assert on_disk == set(pages) | {"index"}, "a page is not in the table of contents"
    for page in DOCS.rglob("*.rst"):
        for figure in re.findall(r"\.\. (?:figure|image):: (\S+)", page.read_text(encoding="utf-8")):
            path = (page.parent / figure).resolve()
            assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{page.name}: {figure}"


def test_the_build_fetches_nothing():
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    assert "sphinx.ext.intersphinx" not in conf and "http" not in conf


@pytest.mark.parametrize("module", ["vecclust", "vecclust.dask"])
def test_every_public_name_has_a_docstring(module):
    import importlib

    mod = importlib.import_module(module)
    for name in set(mod.__all__) - {"__version__"}:
        assert (getattr(mod, name).__doc__ or "").strip(), f"{module}.{name} has no docstring"
