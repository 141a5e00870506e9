"""Mutations of index files for the file-format fuzz test.

`layout` parses a file written by MultiTenantIndex.save (the format of
cpp/include/vecclust/index/index_file.hpp) into its fields and arrays; `mutate` applies one
random mutation, blind (bit flips, byte overwrites, truncations, insertions, deletions) or
field-aware (an interesting value written into a field, an array grown or shrunk together with
its count), and `seal` recomputes the checksum so that the structural checks of the loader, not
the checksum, must reject or safely accept the result.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

MASK = 2**64 - 1
FORMATS = {"u8": "<B", "u32": "<I", "u64": "<Q", "i64": "<q", "f32": "<f", "f64": "<d"}


def checksum(body: bytes) -> int:
    """The index format's checksum (index_io.hpp's Checksum) of `body`."""
    state = 0x243F6A8885A308D3
    words = np.frombuffer(body + bytes(-len(body) % 8), dtype="<u8").tolist()
    for word in words + [len(body)]:
        x = state ^ word
        state = ((((x << 29) | (x >> 35)) & MASK) * 0x9E3779B97F4A7C15) & MASK
    h = state
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & MASK
    return h ^ (h >> 31)


def seal(body: bytes) -> bytes:
    """`body` (a file without its checksum) with its checksum appended."""
    return body + struct.pack("<Q", checksum(body))


@dataclass
class Field:
    name: str
    offset: int
    kind: str  # a key of FORMATS


@dataclass
class Array:
    name: str
    count: Field  # the u64 count in front of the elements
    start: int  # offset of the first element
    item_bytes: int


@dataclass
class Layout:
    fields: list = field(default_factory=list)
    arrays: list = field(default_factory=list)


class _Parser:
    def __init__(self, data: bytes):
        self.data, self.pos, self.layout = data, 0, Layout()

    def value(self, name, kind):
        f = Field(name, self.pos, kind)
        (v,) = struct.unpack_from(FORMATS[kind], self.data, self.pos)
        self.layout.fields.append(f)
        self.pos += struct.calcsize(FORMATS[kind])
        return v

    def items(self, name, kinds, count):
        """`count` items of the given field kinds: their values."""
        return [[self.value(f"{name}[{i}].{j}", kind) for j, kind in enumerate(kinds)] for i in range(count)]

    def array(self, name, kinds):
        count = self.value(f"{name}.count", "u64")
        start = self.pos
        values = self.items(name, kinds, count)
        item_bytes = sum(struct.calcsize(FORMATS[k]) for k in kinds)
        self.layout.arrays.append(Array(name, self.layout.fields[-1 - len(kinds) * count], start, item_bytes))
        return values


def layout(data: bytes) -> Layout:
    """The fields and arrays of a valid index file."""
    p = _Parser(data)
    p.pos = 8  # magic
    p.value("version", "u32")
    dim = p.value("dim", "u64")
    for name, kind in [("metric", "u32"), ("branching_factor", "u64"), ("split_threshold", "u64"), ("bloom_fpr", "f64"),
                       ("seed", "u64"), ("sign_codes", "u32"), ("trained", "u8")]:
        p.value(name, kind)
    nodes = p.array("nodes", ["u32", "u32", "u32", "u32"])
    p.items("centroids", ["f32"] * dim, len(nodes))
    p.array("basis", ["f64"])
    p.array("base", ["f32"])
    p.array("step", ["f32"])
    p.array("sign_centre", ["f32"])
    p.array("tenants", ["i64", "u64"])
    p.array("free_tenants", ["u32"])
    n_slots = p.value("slots.count", "u64")
    for v in range(n_slots):
        p.value(f"slot[{v}].id", "i64")
        p.value(f"slot[{v}].owner", "u32")
        p.value(f"slot[{v}].leaf", "u32")
        p.array(f"slot[{v}].access", ["u32"])
        p.items(f"slot[{v}].row", ["f32"] * dim, 1)
    p.array("free_slots", ["u32"])
    for i in range(len(nodes)):
        for name in ("capacity", "count", "n_probes"):
            p.value(f"filter[{i}].{name}", "u32")
        p.array(f"filter[{i}].words", ["u64"])
        n_lists = p.value(f"node[{i}].lists", "u64")
        for j in range(n_lists):
            p.value(f"node[{i}].list[{j}].tenant", "u32")
            p.array(f"node[{i}].list[{j}].ids", ["u32"])
    p.value("stale_filter_entries", "u64")
    assert p.pos + 8 == len(data), "the layout does not cover the file"
    return p.layout


def interesting(kind: str, old, rng) -> list:
    """Values likely to break a field of this kind: limits, off-by-ones and special floats."""
    if kind == "f32" or kind == "f64":
        big = 3.4e38 if kind == "f32" else 1.7e308
        return [float("nan"), float("inf"), float("-inf"), 0.0, -0.0, big, -big, 1e-45, -old, old * 2 + 1]
    bits = {"u8": 8, "u32": 32, "u64": 64, "i64": 64}[kind]
    signed = kind == "i64"
    top = 2 ** (bits - 1) - 1 if signed else 2**bits - 1
    low = -(2 ** (bits - 1)) if signed else 0
    values = [0, 1, 2, top, top - 1, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**63 - 1, low, -1, old - 1, old + 1, old * 2,
              int(rng.integers(0, 2**31)), int(rng.integers(0, 16))]
    return [v for v in values if low <= v <= top]


def _pack(kind, value) -> bytes:
    return struct.pack(FORMATS[kind], value)


MUTATIONS = ("bit_flip", "byte", "field", "float_bits", "truncate", "insert", "delete", "array_grow", "array_shrink",
             "swap_fields")


def mutate(data: bytes, lay: Layout, rng) -> tuple:
    """One random mutation of the valid file `data` (laid out as `lay`), sealed with a fresh
    checksum: (mutation name, mutant bytes)."""
    body = bytearray(data[:-8])
    n = len(body)
    kind = MUTATIONS[int(rng.integers(0, len(MUTATIONS)))]
    if kind == "bit_flip":
        for _ in range(int(rng.integers(1, 4))):
            body[int(rng.integers(0, n))] ^= 1 << int(rng.integers(0, 8))
    elif kind == "byte":
        at = int(rng.integers(0, n))
        body[at] = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE][int(rng.integers(0, 6))]
    elif kind in ("field", "float_bits"):
        # integer fields (sizes, ids, offsets, counts) apart from the many floats of the rows
        fields = [f for f in lay.fields if f.kind.startswith("f") == (kind == "float_bits")] or lay.fields
        f = fields[int(rng.integers(0, len(fields)))]
        (old,) = struct.unpack_from(FORMATS[f.kind], body, f.offset)
        values = interesting(f.kind, old, rng)
        value = values[int(rng.integers(0, len(values)))]
        try:
            packed = _pack(f.kind, value)
        except (struct.error, OverflowError):  # a float too large for f32
            packed = _pack(f.kind, float("inf"))
        body[f.offset:f.offset + len(packed)] = packed
    elif kind == "truncate":
        del body[int(rng.integers(0, n)):]
    elif kind == "insert":
        at = _boundary(lay, rng, n)
        size = int(rng.integers(1, 17))
        filler = [bytes(size), b"\xff" * size, rng.integers(0, 256, size, dtype=np.uint8).tobytes()][int(rng.integers(0, 3))]
        body[at:at] = filler
    elif kind == "delete":
        at = _boundary(lay, rng, n)
        del body[at:at + int(rng.integers(1, 17))]
    elif kind in ("array_grow", "array_shrink"):
        arrays = [a for a in lay.arrays if a.item_bytes > 0]
        a = arrays[int(rng.integers(0, len(arrays)))]
        (count,) = struct.unpack_from("<Q", body, a.count.offset)
        if kind == "array_grow":  # one more element: a copy of one, or zeros
            source = int(rng.integers(0, count)) if count and rng.integers(0, 2) else None
            item = bytes(body[a.start + source * a.item_bytes:a.start + (source + 1) * a.item_bytes]) if source is not None \
                else bytes(a.item_bytes)
            at = a.start + int(rng.integers(0, count + 1)) * a.item_bytes
            body[at:at] = item
            body[a.count.offset:a.count.offset + 8] = _pack("u64", count + 1)
        elif count > 0:  # one element fewer
            at = a.start + int(rng.integers(0, count)) * a.item_bytes
            del body[at:at + a.item_bytes]
            body[a.count.offset:a.count.offset + 8] = _pack("u64", count - 1)
        else:
            body[a.count.offset:a.count.offset + 8] = _pack("u64", 1)
    elif kind == "swap_fields":  # two fields of the same kind exchange values
        f = lay.fields[int(rng.integers(0, len(lay.fields)))]
        same = [g for g in lay.fields if g.kind == f.kind]
        g = same[int(rng.integers(0, len(same)))]
        size = struct.calcsize(FORMATS[f.kind])
        a, b = bytes(body[f.offset:f.offset + size]), bytes(body[g.offset:g.offset + size])
        body[f.offset:f.offset + size], body[g.offset:g.offset + size] = b, a
    return kind, seal(bytes(body))


def _boundary(lay: Layout, rng, n: int) -> int:
    """A field boundary (where structure-shifting edits do the most damage) or any offset."""
    if rng.integers(0, 2):
        return lay.fields[int(rng.integers(0, len(lay.fields)))].offset
    return int(rng.integers(0, n + 1))


def with_fields(data: bytes, changes: dict) -> bytes:
    """The valid file `data` with the named fields (see `layout`) set to new values, resealed."""
    body = bytearray(data[:-8])
    by_name = {f.name: f for f in layout(data).fields}
    for name, value in changes.items():
        f = by_name[name]
        packed = _pack(f.kind, value)
        body[f.offset:f.offset + len(packed)] = packed
    return seal(bytes(body))
