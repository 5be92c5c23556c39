"""Seeded hypothesis runs that a seed reproduces, whatever else the process imported.

Hypothesis (since 6.131) draws, now and then, a "local constant": a literal found in the source of any
module loaded so far. The same seed then gave other sequences after other imports: 250 seeded adversary
sequences compared 1 626 loads host against rig when run alone, 2 166 after `import host_tools.rx`, 1 580
after tests/safety/test_host_input.py. Inside `fixed_constants()` the pool of local constants is empty, so a
seed is the sequence. The pool is internal to hypothesis (pinned in constraints.txt); where it is not found,
nothing is changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def fixed_constants() -> Iterator[None]:
    try:
        from hypothesis.internal.conjecture import providers  # noqa: PLC0415
    except ImportError:  # pragma: no cover
        yield
        return
    get: Any = getattr(providers, "_get_local_constants", None)
    cache: Any = getattr(providers, "CONSTANTS_CACHE", None)
    if get is None or cache is None or not hasattr(cache, "cache"):
        yield
        return
    empty = type(get())()
    providers._get_local_constants = lambda: empty
    cache.cache.clear()  # its entries hold the pools drawn so far
    try:
        yield
    finally:
        providers._get_local_constants = get
        cache.cache.clear()
