"""The package's type information: py.typed, the stub of the compiled module and mypy.

The stub `_core.pyi` must list every function and class of `vecclust._core` with the
parameters pybind11 reports (names, and which are keyword-only); mypy's stubtest and mypy on
the package check the rest where mypy is installed.
"""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import vecclust
from vecclust import _core

PACKAGE = Path(vecclust.__file__).resolve().parent
STUB = PACKAGE / "_core.pyi"


def stub_tree() -> ast.Module:
    return ast.parse(STUB.read_text(encoding="utf-8"))


def runtime_parameters(name: str, function) -> list[tuple[str, ...]]:
    """Per overload, the parameter names, "*" marking where the keyword-only ones start."""
    signatures = []
    for line in (function.__doc__ or "").splitlines():
        match = re.match(rf"(?:\d+\. )?{re.escape(name)}\((.*)\) ->", line)
        if not match:
            continue
        names = []
        depth, current = 0, ""
        for char in match.group(1) + ",":
            depth += char in "[(" and 1 or (char in "])" and -1 or 0)
            if char == "," and depth == 0:
                names.append(current.split(":")[0].split("=")[0].strip())
                current = ""
            else:
                current += char
        signatures.append(tuple(n for n in names if n and n != "self"))
    return signatures


def stub_parameters(node: ast.FunctionDef) -> tuple[str, ...]:
    args = node.args
    names = [a.arg for a in args.posonlyargs + args.args if a.arg not in ("self", "cls")]
    if args.kwonlyargs:
        names += ["*", *(a.arg for a in args.kwonlyargs)]
    return tuple(names)


def stub_functions(body) -> dict[str, list[tuple[str, ...]]]:
    found: dict[str, list[tuple[str, ...]]] = {}
    for node in body:
        if isinstance(node, ast.FunctionDef):
            found.setdefault(node.name, []).append(stub_parameters(node))
    return found


def runtime_names(namespace) -> list[str]:
    return sorted(n for n in vars(namespace) if not n.startswith("__"))


def test_py_typed_marker_is_shipped():
    assert (PACKAGE / "py.typed").is_file()


def test_stub_lists_every_name_of_the_module():
    tree = stub_tree()
    stubbed = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    stubbed |= {t.id for n in tree.body if isinstance(n, ast.AnnAssign) for t in [n.target] if isinstance(t, ast.Name)}
    assert stubbed == set(runtime_names(_core)) | {"__version__"}


def test_stub_functions_have_the_runtime_parameters():
    tree = stub_tree()
    functions = stub_functions(tree.body)
    checked = 0
    for name in runtime_names(_core):
        obj = getattr(_core, name)
        if isinstance(obj, type):
            continue
        assert sorted(functions[name]) == sorted(runtime_parameters(name, obj)), name
        checked += 1
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    core_class = _core.MultiTenantIndexCore
    methods = stub_functions(classes["MultiTenantIndexCore"].body)
    for name, value in vars(core_class).items():
        if name.startswith("_pybind11"):
            continue
        if callable(getattr(value, "__func__", value)) and (not name.startswith("__") or name in ("__init__", "__len__")):
            function = getattr(value, "__func__", value)
            assert sorted(methods[name]) == sorted(runtime_parameters(name, function)), name
            checked += 1
    assert checked > 30


def mypy_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    pytest.importorskip("mypy")
    if PACKAGE.parent.name in ("site-packages", "dist-packages"):
        # Installed: mypy finds it as an installed package. Run from an empty directory, for
        # from site-packages every module there would look like the user's own.
        env, cwd = dict(os.environ), tmp_path
    else:  # a source tree (PYTHONPATH=python): mypy reads it from the current directory
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")])}
        cwd = PACKAGE.parent
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def test_stubtest_finds_the_stub_consistent(tmp_path):
    # pybind11's classes have a metaclass of their own, which a stub does not spell out; the
    # class's methods are still checked one by one.
    allowlist = tmp_path / "allowlist.txt"
    allowlist.write_text("vecclust._core.MultiTenantIndexCore\n")
    result = mypy_run(tmp_path, "mypy.stubtest", "vecclust._core", "--mypy-config-file", str(mypy_config(tmp_path)),
                      "--allowlist", str(allowlist))
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_passes_on_the_package(tmp_path):
    result = mypy_run(tmp_path, "mypy", "--config-file", str(mypy_config(tmp_path)), "-p", "vecclust")
    assert result.returncode == 0, result.stdout + result.stderr


def mypy_config(tmp_path: Path) -> Path:
    """mypy's settings for the package, its cache kept out of the source tree."""
    config = tmp_path / "mypy.ini"
    config.write_text(f"[mypy]\ncache_dir = {tmp_path / 'cache'}\nignore_missing_imports = True\n"
                      "allow_redefinition_new = True\nlocal_partial_types = True\n")
    return config
