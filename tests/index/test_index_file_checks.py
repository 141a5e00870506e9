"""Index files as untrusted input: crafted fields with a valid checksum, paths, file modes and
symbolic links."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from vecclust import IndexIOError, MultiTenantIndex, _core

sys.path.insert(0, str(Path(__file__).parent))
from file_mutations import layout, with_fields  # noqa: E402


def small_index(metric="l2", n_tenants=3, n=60, dim=4):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, dim)).astype(np.float32)
    index = MultiTenantIndex(dim, metric=metric, branching_factor=3, split_threshold=4, random_state=0, n_threads=1)
    index.train(X)
    for t in range(n_tenants):
        index.add(X[t::n_tenants], np.arange(t, n, n_tenants), t)
    return index, X


def _unpickled(data: bytes) -> MultiTenantIndex:
    index = MultiTenantIndex.__new__(MultiTenantIndex)
    index.__setstate__({"index": data, "n_threads": 1})
    return index


def rejected(data: bytes, match: str):
    with pytest.raises(IndexIOError, match=match) as info:
        _unpickled(data)
    assert isinstance(info.value, ValueError)  # what a corrupt file raised before
    return info.value


def first_field(data: bytes, predicate) -> str:
    return next(f.name for f in layout(data).fields if predicate(f.name))


# --------------------------------------------------------------------------------------------
# Crafted fields
# --------------------------------------------------------------------------------------------

def test_empty_bloom_filter_claiming_capacity_is_rejected_not_a_crash(tmp_path):
    # One tenant with a shortlist at the root only: the other filters are empty. A file whose
    # empty filter claims room for 5 members at 7 probes used to load, and the next add that
    # pushed the shortlist down wrote through the filter's missing bits. Run in a child process,
    # so that a crash fails the test instead of ending the run.
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    index = MultiTenantIndex(4, branching_factor=3, split_threshold=4, random_state=0, n_threads=1)
    index.train(X)
    index.add(X[:3], [0, 1, 2], 0)
    data = index._core.to_bytes()
    names = {f.name for f in layout(data).fields}
    assert "filter[1].capacity" in names
    crafted = with_fields(data, {"filter[1].capacity": 5, "filter[1].n_probes": 7})
    (tmp_path / "crafted.vci").write_bytes(crafted)
    np.save(tmp_path / "X.npy", X)
    script = textwrap.dedent("""
        import pickle, sys
        import numpy as np
        from vecclust import IndexIOError, MultiTenantIndex
        X = np.load(sys.argv[2])
        try:
            index = MultiTenantIndex.load(sys.argv[1])
        except IndexIOError as e:
            print("rejected:", e)
        else:
            index.add(X[3:], np.arange(3, len(X)), 0)
            print("loaded and added")
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    child = subprocess.run([sys.executable, "-c", script, str(tmp_path / "crafted.vci"), str(tmp_path / "X.npy")],
                           capture_output=True, text=True, env=env, timeout=120)
    assert child.returncode == 0, f"the child process died ({child.returncode}): {child.stderr[-2000:]}"
    assert "rejected:" in child.stdout and "Bloom filter's capacity 5 exceeds 4" in child.stdout, child.stdout
    # through pickle's path; a capacity within the limit then fails on the bit count
    rejected(crafted, "Bloom filter's capacity 5")
    rejected(with_fields(data, {"filter[1].capacity": 4, "filter[1].n_probes": 7}), "Bloom filter's bit count 0 does not match")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_coordinates_that_are_not_finite_are_rejected(value):
    index, _ = small_index()
    data = index._core.to_bytes()
    name = first_field(data, lambda n: n.startswith("slot[") and ".row[" in n)
    rejected(with_fields(data, {name: value}), "NaN or infinite coordinate")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_centroids_that_are_not_finite_are_rejected(value):
    index, _ = small_index()
    data = index._core.to_bytes()
    for node in ("0", "3"):
        rejected(with_fields(data, {f"centroids[{node}].1": value}), f"centroid of tree node {node} is not finite")


def test_coordinates_add_would_refuse_are_rejected():
    # At dim 4, add() takes |x| up to sqrt(FLT_MAX / 32) (about 3.3e18): a larger stored value
    # would make distances overflow to inf at search time.
    index, _ = small_index()
    data = index._core.to_bytes()
    name = first_field(data, lambda n: n.startswith("slot[") and ".row[" in n)
    rejected(with_fields(data, {name: 1e30}), "has a value above 3.26e\\+18")
    _unpickled(with_fields(data, {name: 1e18}))  # inside the limit: loads


def test_bloom_fpr_below_the_probe_limit_is_rejected():
    index, _ = small_index()
    data = index._core.to_bytes()
    rejected(with_fields(data, {"bloom_fpr": 2.0**-65}), "bloom_fpr outside")


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_code_grids_that_are_not_finite_are_rejected(value):
    index, _ = small_index()
    data = index._core.to_bytes()
    for name in ("basis[5].0", "base[0].0", "step[3].0"):
        rejected(with_fields(data, {name: value}), "code grids")


def test_crafted_fields_are_rejected_naming_them():
    index, _ = small_index(n_tenants=4)
    index.remove([0, 1, 5])
    index.remove_tenant(3)
    data = index._core.to_bytes()
    fields = {f.name for f in layout(data).fields}
    live = next(n for n in sorted(fields) if n.endswith(".owner") and _field_value(data, n) != 0xFFFFFFFF)
    slot = live.split(".")[0]
    other = next(n for n in sorted(fields) if n.endswith(".owner") and _field_value(data, n) != 0xFFFFFFFF
                 and n != live).replace(".owner", ".id")
    free = next(n.split(".")[0] for n in sorted(fields) if n.endswith(".owner") and _field_value(data, n) == 0xFFFFFFFF)
    free_tenant = next(n.split(".")[0] for n in sorted(fields) if n.startswith("tenants[") and n.endswith(".1")
                       and _field_value(data, n) == 0)
    leaf = next(i for i in range(100) if f"nodes[{i}].2" in fields and _field_value(data, f"nodes[{i}].2") == 0)
    shortlist = next(n for n in fields if n.endswith(".list[0].tenant"))[:-len(".tenant")]
    filled = next(i for i in range(100) if _field_value(data, f"filter[{i}].capacity") > 0)
    cases = [
        ({"trained": 2}, "trained flag is 2"),
        ({"metric": 7}, "unknown metric code 7"),
        ({"dim": 0}, r"dim 0 outside \[1, 1048576\]"),
        ({"dim": 2**20 + 1}, r"dim 1048577 outside"),
        ({"branching_factor": 2**40}, r"branching_factor 1099511627776 outside \[2, 4096\]"),
        ({"branching_factor": 1}, "branching_factor 1 outside"),
        ({"split_threshold": 0}, r"split_threshold 0 outside \[1, 1073741824\]"),
        ({"bloom_fpr": float("nan")}, r"bloom_fpr outside \[2\^-64, 1\)"),
        ({"bloom_fpr": 1.0}, "bloom_fpr outside"),
        ({"bloom_fpr": -0.0}, "bloom_fpr outside"),
        ({"branching_factor": 2}, r"tree node 0 has 3 children, outside \[2, branching_factor\]"),
        ({f"nodes[{leaf}].1": 7}, f"tree node {leaf} is a leaf with a first child"),
        ({f"{slot}.id": -5}, "negative id -5"),
        ({f"{slot}.id": _field_value(data, other)}, f"vector id {_field_value(data, other)} appears twice"),
        ({f"{free}.id": 77}, f"vector slot {free[5:-1]} is free but has an id"),
        ({f"{free}.row[0].1": 1.5}, "is free but holds a vector"),
        ({f"{free}.row[0].1": -0.0}, "is free but holds a vector"),
        ({f"{free_tenant}.0": 99}, "free tenant record .* keeps an id"),
        ({f"filter[{filled}].n_probes": 6}, "probe count 6 does not match bloom_fpr"),
        ({f"filter[{filled}].count": 2**32 - 1}, "count .* exceeds its capacity"),
        ({f"filter[{filled}].capacity": 2**31}, "capacity 2147483648 exceeds"),
        ({f"{shortlist}.tenant": 2**32 - 1}, "names an unknown tenant"),
        ({f"{shortlist}.tenant": int(free_tenant[8:-1])}, "names an unknown tenant"),
        ({f"{shortlist}.ids[0].0": 2**32 - 2}, "holds a free vector slot"),
        ({f"{shortlist}.ids[0].0": int(free[5:-1])}, "holds a free vector slot"),
        ({"stale_filter_entries": 2**64 - 1}, None),  # any count of stale entries is safe
    ]
    for changes, match in cases:
        changes = {name: value for name, value in changes.items() if name in fields}
        assert changes, match
        crafted = with_fields(data, changes)
        if match is None:
            loaded = _unpickled(crafted)
            loaded.remove([2])
            loaded._check_invariants()
            continue
        rejected(crafted, match)


def _field_value(data: bytes, name: str):
    import struct

    from file_mutations import FORMATS
    f = next((f for f in layout(data).fields if f.name == name), None)
    return None if f is None else struct.unpack_from(FORMATS[f.kind], data, f.offset)[0]


def test_cosine_vectors_must_be_normalised():
    index, _ = small_index(metric="cosine")
    data = index._core.to_bytes()
    name = first_field(data, lambda n: n.startswith("slot[") and n.endswith(".row[0].0"))
    rejected(with_fields(data, {name: 3.0}), "not normalised")


def test_a_failed_load_into_an_existing_object_leaves_it_intact():
    index, X = small_index()
    before = index._core.to_bytes()
    state = index.__getstate__()
    crafted = with_fields(state["index"], {"trained": 2})
    index.n_threads = 1
    with pytest.raises(IndexIOError):
        index.__setstate__({"index": crafted, "n_threads": 3})
    assert index.n_threads == 1 and index._core.to_bytes() == before
    index._check_invariants()


def test_corrupt_index_error_is_an_index_io_error_and_a_value_error():
    assert issubclass(_core.CorruptIndexError, IndexIOError)
    assert issubclass(_core.CorruptIndexError, ValueError)
    assert issubclass(IndexIOError, OSError)


# --------------------------------------------------------------------------------------------
# Paths, modes and links
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", [str, bytes])
def test_paths_with_nul_bytes_are_refused(tmp_path, kind):
    index, _ = small_index()
    good = tmp_path / "index.vci"
    index.save(good)
    with_nul = kind(str(good)) + kind("\0x") if kind is str else os.fsencode(good) + b"\0x"
    with pytest.raises(ValueError, match="null byte"):
        MultiTenantIndex.load(with_nul)
    before = good.read_bytes()
    with pytest.raises(ValueError, match="null byte"):
        index.save(with_nul)
    assert good.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["index.vci"]
    with pytest.raises(ValueError):
        open(with_nul)  # the convention followed


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_new_files_get_the_umask_and_replaced_files_keep_their_mode(tmp_path):
    index, _ = small_index()
    old_umask = os.umask(0o022)
    try:
        index.save(tmp_path / "new.vci")
        assert _mode(tmp_path / "new.vci") == 0o644
        os.umask(0o077)
        index.save(tmp_path / "private.vci")
        assert _mode(tmp_path / "private.vci") == 0o600
        (tmp_path / "shared.vci").write_bytes(b"old")
        os.chmod(tmp_path / "shared.vci", 0o640)
        index.save(tmp_path / "shared.vci")  # replaced: keeps 0640 whatever the umask
        assert _mode(tmp_path / "shared.vci") == 0o640
        os.chmod(tmp_path / "private.vci", 0o604)
        index.save(tmp_path / "private.vci")
        assert _mode(tmp_path / "private.vci") == 0o604
    finally:
        os.umask(old_umask)
    assert MultiTenantIndex.load(tmp_path / "shared.vci").tenants().tolist() == [0, 1, 2]
    assert not list(tmp_path.glob("*.tmp-*"))


def test_saving_through_a_symbolic_link_writes_its_target(tmp_path):
    index, _ = small_index()
    (tmp_path / "data").mkdir()
    target = tmp_path / "data" / "index.vci"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    absolute = tmp_path / "absolute.vci"
    absolute.symlink_to(target)
    relative = tmp_path / "data" / "relative.vci"
    relative.symlink_to("index.vci")  # relative to the link's directory
    chain = tmp_path / "chain.vci"
    chain.symlink_to(absolute)
    for link in (absolute, relative, chain):
        target.write_bytes(b"old")
        index.save(link)
        assert link.is_symlink() and target.read_bytes() == index._core.to_bytes()
        assert _mode(target) == 0o640
        assert MultiTenantIndex.load(link).tenants().tolist() == [0, 1, 2]
    dangling = tmp_path / "dangling.vci"
    dangling.symlink_to(tmp_path / "data" / "created.vci")
    index.save(dangling)  # as open() does, creates the missing target
    assert dangling.is_symlink() and (tmp_path / "data" / "created.vci").read_bytes() == index._core.to_bytes()
    loop = tmp_path / "loop.vci"
    loop.symlink_to(loop)
    with pytest.raises(OSError):
        index.save(loop)
    assert not list(tmp_path.rglob("*.tmp-*"))


# --------------------------------------------------------------------------------------------
# Integer arguments: a ValueError naming the limit, never a wrap-around or a binding's type error
# --------------------------------------------------------------------------------------------

HUGE = [2**63, 2**64, -(2**63) - 1, 2**100]


@pytest.mark.parametrize("name", ["dim", "branching_factor", "split_threshold"])
@pytest.mark.parametrize("value", HUGE)
def test_huge_constructor_integers(name, value):
    kwargs = {"dim": 4, name: value}
    with pytest.raises(ValueError, match=rf"{name}=-?\d+ must be [<>]= \d+"):
        MultiTenantIndex(kwargs.pop("dim"), **kwargs)


@pytest.mark.parametrize("value", [2**63, 2**100])
def test_huge_thread_counts_and_seeds(value, tmp_path):
    with pytest.raises(ValueError, match="n_threads=.* must be <="):
        MultiTenantIndex(4, n_threads=value)
    with pytest.raises(ValueError):
        MultiTenantIndex(4, random_state=value)
    with pytest.raises(ValueError, match="n_threads=.* must be <="):
        MultiTenantIndex.load(tmp_path / "missing.vci", n_threads=value)  # checked before the file


def test_huge_search_arguments():
    index, X = small_index()
    for k in (2**58, 2**63, 2**64, 2**32 - 1):  # 2**58 once overflowed the default budget (32 k)
        with pytest.raises(ValueError, match=r"k=\d+ must be <= 4294967294"):
            index.search(X[:1], 0, k=k)
    with pytest.raises(ValueError, match="k=0 must be >= 1"):
        index.search(X[:1], 0, k=0)
    for budget in (2**63, 2**64):
        with pytest.raises(ValueError, match=rf"budget={budget} must be <= {2**63 - 1}"):
            index.search(X[:1], 0, k=3, budget=budget)
    D, I = index.search(X[:1], 0, k=3, budget=2**63 - 1)  # the largest budget is an exact search
    np.testing.assert_array_equal(I, index.search(X[:1], 0, k=3, budget=10**6)[1])
    for tenant in HUGE:
        with pytest.raises(ValueError, match="does not fit in int64"):
            index.search(X[:1], tenant)
        with pytest.raises(ValueError, match="tenant must fit in int64"):
            index.search(X[:2], [0, tenant])


@pytest.mark.parametrize("value", HUGE)
def test_huge_ids_and_tenants_in_every_method(value):
    index, X = small_index()
    before = index._core.to_bytes()
    calls = [
        lambda: index.add(X[:1], [value], 0),
        lambda: index.add(X[:2], [1000, value], 0),
        lambda: index.add(X[:1], [1000], value),
        lambda: index.grant([value], 1),
        lambda: index.grant([3], value),
        lambda: index.revoke([value], 1),
        lambda: index.revoke([3], value),
        lambda: index.remove([value]),
        lambda: index.remove([3, value]),
        lambda: index.remove_tenant(value),
        lambda: index.tenant_size(value),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="fit in int64"):
            call()
    if value > 0:  # as unsigned arrays too
        with pytest.raises(ValueError, match="fit in int64"):
            index.remove(np.array([min(value, 2**64 - 1)], dtype=np.uint64))
    assert index._core.to_bytes() == before  # nothing changed, nothing wrapped around


def test_ids_at_the_int64_limits_are_not_wrapped():
    index, X = small_index()
    index.add(X[:2], [2**63 - 1, 0 + 10**6], 2**63 - 1)
    index.grant([2**63 - 1], -(2**63))
    assert index.tenant_size(-(2**63)) == 1 and index.tenant_size(2**63 - 1) == 2
    assert index.search(X[0], -(2**63), k=1)[1].tolist() == [[2**63 - 1]]
    with pytest.raises(ValueError, match="ids must be >= 0"):
        index.add(X[:1], [-(2**63)], 0)
    with pytest.raises(KeyError):
        index.remove([-1])
    index._check_invariants()
