"""One pass over the blocks whose per-block summaries are combined pairwise on the workers, in a
fixed tree over the block order, so only the final summary reaches the client and the result
does not depend on which worker ran which block."""

from __future__ import annotations

import dask

from .blocks import block_offsets, compute


def reduce_blocks(X, func, combine, *shared, **options):
    """combine(...combine(func(block 0, 0, offset 0, *shared, **options), func(block 1, ...))...)
    over all blocks of X: pairs of neighbours first, then pairs of pairs. Shared objects enter
    the graph once."""
    offsets = block_offsets(X)
    shared = [dask.delayed(a, traverse=False) for a in shared]
    level = [dask.delayed(func)(block, i, int(offsets[i]), *shared, **options)
             for i, block in enumerate(X.to_delayed().ravel())]
    while len(level) > 1:
        level = [dask.delayed(combine)(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
    return compute(level)[0]
