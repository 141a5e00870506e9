"""Fuzz test of the index file format: mutants of valid files, with recomputed checksums, must
be rejected with CorruptIndexError or load into an index that passes the invariant checker and
keeps working (add, grant, revoke, remove, search, save)."""

from __future__ import annotations

import collections
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vecclust import MultiTenantIndex, _core

sys.path.insert(0, str(Path(__file__).parent))
from file_mutations import layout, mutate, seal  # noqa: E402

N_MUTANTS = 10_000  # also under the sanitizers, where they take a few seconds more
N_FILE_LOADS = 50  # of the mutants also go through a file rather than memory


def trained(dim, metric, n=48, seed=0, **options):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, dim)).astype(np.float32)
    index = MultiTenantIndex(dim, metric=metric, branching_factor=3, split_threshold=4, random_state=seed, n_threads=1,
                             **options)
    index.train(X)
    return index, X


def base_indexes():
    """Small indexes of every kind: untrained, empty, one tenant, many tenants, after removes."""
    out = {}
    out["untrained-l2"] = MultiTenantIndex(3, random_state=0, n_threads=1)
    index, _ = trained(5, "ip")
    out["empty-ip"] = index
    index, X = trained(4, "l2", seed=1)
    index.add(X[:20], np.arange(20), 7)
    out["one-tenant-l2"] = index
    index, X = trained(3, "cosine", seed=2)
    for t in range(6):
        index.add(X[t::6], np.arange(t, len(X), 6) + 100, t * 11 - 20)
    index.grant([100, 101, 102, 103], 33)
    index.grant(np.arange(100, 148, 5), -9)
    out["many-tenants-cosine"] = index
    index, X = trained(4, "ip", seed=3)
    for t in range(4):
        index.add(X[t::4], np.arange(t, len(X), 4), t)
    index.grant([0, 1, 2, 3, 4, 5], 9)
    index.remove([0, 5, 9, 13])
    index.revoke([1], 9)
    index.remove_tenant(2)
    out["after-removes-ip"] = index
    index, X = trained(4, "l2", seed=4, bloom_fpr=0.3)
    for t in range(5):
        index.add(X[t * 8:(t + 1) * 8], np.arange(t * 8, (t + 1) * 8), t)
    index.remove(np.arange(0, 40, 3))
    out["after-removes-l2"] = index
    index, X = trained(3, "cosine", seed=5)
    index.add(X[:16], np.arange(16), 1)
    index.remove([2, 3])
    out["one-tenant-cosine"] = index
    return out


def exercise(index: MultiTenantIndex, rng) -> None:
    """What a loaded index must survive: every mutation and search, then a save round trip."""
    index._check_invariants()
    dim = index.dim
    if not index.is_trained:
        if dim > 64:  # a valid untrained index of a large dim: training it is slow, not unsafe
            return
        index.train(rng.normal(size=(20, dim)).astype(np.float32))
    tenants = index.tenants().tolist()
    X = rng.normal(size=(6, dim)).astype(np.float32)
    index.add(X[:3], [10**15, 10**15 + 1, 10**15 + 2], tenants[0] if tenants else 5)
    index.add(X[3:], [10**15 + 3, 10**15 + 4, 10**15 + 5], 10**15)
    index.grant([10**15 + 3], tenants[-1] if tenants else 6)
    for t in index.tenants().tolist():
        visible = set()
        for _, ids in index._shortlists(t):
            visible.update(ids.tolist())
        for budget in (2, None):
            D, I = index.search(X[:2], t, k=4, budget=budget)
            found = set(I[I >= 0].tolist())
            assert found <= visible, "a search returned a vector its tenant cannot see"
            assert np.all(np.isfinite(D[I >= 0])) or index.metric != "cosine"
    index.revoke([10**15 + 3], tenants[-1] if tenants else 6)
    index.remove([10**15 + 1])
    if tenants:
        index.remove_tenant(tenants[0])
    index._check_invariants()
    data = index._core.to_bytes()
    assert load_bytes(data)._core.to_bytes() == data


def load_bytes(data: bytes) -> MultiTenantIndex:
    index = MultiTenantIndex.__new__(MultiTenantIndex)
    index.__setstate__({"index": data, "n_threads": 1})  # pickle's path
    return index


def test_mutated_files_are_rejected_or_load_safely(tmp_path):
    bases = base_indexes()
    per_base = -(-N_MUTANTS // len(bases))
    counts = collections.Counter()
    started = time.perf_counter()
    rng = np.random.default_rng(20240607)
    path = tmp_path / "mutant.vci"
    for b, (name, index) in enumerate(bases.items()):
        data = index._core.to_bytes()
        lay = layout(data)
        for i in range(per_base):
            kind, mutant = mutate(data, lay, rng)
            counts["tried"] += 1
            try:
                if i % (per_base // N_FILE_LOADS) == 0:
                    path.write_bytes(mutant)
                    loaded = MultiTenantIndex.load(path, n_threads=1)
                else:
                    loaded = load_bytes(mutant)
            except _core.CorruptIndexError as e:
                assert str(e), "a rejection names its reason"
                counts["rejected"] += 1
                counts[f"rejected {kind}"] += 1
                continue
            counts["loaded"] += 1
            counts[f"loaded {kind}"] += 1
            # An accepted file is in the canonical form save writes: saving it again gives it back.
            assert loaded._core.to_bytes() == mutant, f"{name}: a loaded {kind} mutant does not save back to itself"
            try:
                exercise(loaded, np.random.default_rng(b * per_base + i))
            except Exception as e:  # noqa: BLE001 - name the mutant in the failure
                raise AssertionError(f"{name}: a loaded {kind} mutant failed: {e!r}") from e
    elapsed = time.perf_counter() - started
    assert counts["tried"] >= N_MUTANTS and counts["tried"] == counts["loaded"] + counts["rejected"]
    assert counts["rejected"] > counts["tried"] // 4 and counts["loaded"] > 0  # both paths exercised
    summary = ", ".join(f"{key}: {value}" for key, value in sorted(counts.items()))
    print(f"\nfile fuzz: {counts['tried']} mutants, {counts['loaded']} loaded, {counts['rejected']} rejected "
          f"in {elapsed:.1f} s ({summary})")


def test_every_base_file_round_trips():
    for name, index in base_indexes().items():
        data = index._core.to_bytes()
        assert layout(data).fields, name
        assert load_bytes(data)._core.to_bytes() == data, name


@pytest.mark.parametrize("seed", range(3))
def test_truncations_and_extensions_of_every_base_file(seed):
    rng = np.random.default_rng(seed)
    for index in base_indexes().values():
        data = index._core.to_bytes()
        for cut in rng.integers(0, len(data) - 8, 40):  # through the body, not its checksum
            with pytest.raises(_core.CorruptIndexError):
                load_bytes(seal(data[:int(cut)]))
        with pytest.raises(_core.CorruptIndexError):
            load_bytes(seal(data[:-8] + bytes(8)))
