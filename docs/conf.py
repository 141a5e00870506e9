"""Sphinx configuration: the API reference from the numpydoc docstrings and the user guide.

Built offline (nothing is fetched: no inventories of other projects), with warnings as errors and nitpicky references:

    python -m sphinx -W --keep-going -n -b html docs docs/_build/html
"""

import re

import vecclust

project = "vecclust"
copyright = "the vecclust developers"
release = vecclust.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
]

exclude_patterns = ["_build"]
templates_path = ["_templates"]
html_theme = "alabaster"
html_static_path: list[str] = []
html_theme_options = {"description": "fast, exact, deterministic clustering and multi-tenant vector search"}

autosummary_generate = True
autosummary_imported_members = True
# Types are in the numpydoc parameter lists; annotations in signatures would name private aliases.
autodoc_typehints = "none"
autodoc_default_options = {"members": True, "member-order": "groupwise"}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
nitpicky = True


def skip_scikit_learn_members(app, what, name, obj, skip, options):
    """Methods inherited from scikit-learn (get_params, set_output, the metadata-routing setters,
    ...) are scikit-learn's API and documented there; vecclust's own, inherited or not, are shown."""
    module = getattr(obj, "__module__", None) or ""
    if what == "class" and module.split(".")[0] == "sklearn":
        return True
    return skip


SECTIONS_OF_NAMES = {"Parameters", "Other Parameters", "Returns", "Yields", "Attributes", "Raises", "Warns",
                     "See Also", "Methods"}
LITERAL = re.compile(r"(``.*?``|`[^`]*`)")
TRAILING_UNDERSCORE = re.compile(r"\b([A-Za-z0-9_]*[A-Za-z0-9])_(?=[^A-Za-z0-9_]|$)")


def escape_fitted_names(app, what, name, obj, options, lines):
    """Prose names fitted attributes as scikit-learn does (``labels_``), which reStructuredText
    would read as a link; escape the underscore outside literals and numpydoc's name lines."""
    section = None
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if following.strip() and set(following.strip()) == {"-"}:
            section = line.strip()
            continue
        head = ""
        if section in SECTIONS_OF_NAMES and line and not line[0].isspace():
            # "name : type" lines: numpydoc formats the names itself, the type is text.
            head, _, line = line.partition(" : ")
            head += " : " if line else ""
        parts = LITERAL.split(line)
        lines[i] = head + "".join(part if j % 2 else TRAILING_UNDERSCORE.sub(r"\1\\_", part)
                                  for j, part in enumerate(parts))


def setup(app):
    app.connect("autodoc-skip-member", skip_scikit_learn_members)
    # Before numpydoc (priority 500) turns the sections into reStructuredText.
    app.connect("autodoc-process-docstring", escape_fitted_names, priority=100)
