"""How the process allocates the large short-lived arrays of training and scoring.

A training step allocates and frees tensors of tens to hundreds of MiB (a
decoder's ``(pairs, width)`` activations and their gradients). glibc's
``malloc`` serves each from a fresh ``mmap`` and unmaps it on ``free``, so
every step faults in and zeroes those pages again: on ogbl-ddi a third of the
fit was kernel time.

* :func:`prefer_huge_pages` asks PyTorch's CPU allocator to back tensors of
  2 MiB and more with transparent huge pages (``THP_MEM_ALLOC_ENABLE``; read
  by PyTorch once, so it acts only when set before ``torch`` is imported; the
  package does it on import unless the variable is already set).
* :func:`reuse_freed_memory` keeps freed memory in the process for the next
  step (no ``mmap`` for large blocks, no trimming) while its block runs, then
  restores glibc's settings and returns the free memory to the system.

Both are no-ops where they do not apply (no glibc, or PyTorch ignores the
variable); neither changes a computed value.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["prefer_huge_pages", "reuse_freed_memory"]

# mallopt parameters (malloc.h) and glibc's defaults, restored afterwards
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4
_DEFAULTS = ((_M_MMAP_MAX, 65536), (_M_TRIM_THRESHOLD, 128 * 1024), (_M_TOP_PAD, 0))
_REUSE = ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 2**31 - 1), (_M_TOP_PAD, 64 << 20))

_lock = threading.Lock()
_depth = 0


def prefer_huge_pages() -> None:
    """Set ``THP_MEM_ALLOC_ENABLE=1`` unless the environment already says otherwise."""
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")


@functools.cache
def _libc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def _set(libc, settings) -> None:
    for param, value in settings:
        libc.mallopt(ctypes.c_int(param), ctypes.c_int(value))


@contextmanager
def reuse_freed_memory() -> Iterator[None]:
    """While the block runs, freed memory stays in the process and serves the next allocations.

    Nested and concurrent blocks share one setting: it is made by the first
    block to enter and undone by the last to leave (then ``malloc_trim(0)``
    gives the free memory back). Peak memory is unchanged; the process keeps
    its peak until the block ends instead of unmapping between steps.
    """
    global _depth
    libc = _libc()
    if libc is None:
        yield
        return
    with _lock:
        if _depth == 0:
            _set(libc, _REUSE)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _set(libc, _DEFAULTS)
                libc.malloc_trim(ctypes.c_size_t(0))
