"""The allocation settings of training and scoring (topo_graphdb._memory)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import numpy as np
import pytest

from topo_graphdb import _memory
from topo_graphdb._memory import reuse_freed_memory

_BLOCK = 1 << 23  # float64 values: 64 MiB, above glibc's largest mmap threshold (32 MiB)
_PAGES = (_BLOCK * 8) // resource.getpagesize()


def _faults_of_two_allocations() -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(2):
        block = np.ones(_BLOCK)  # touches every page
        del block
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@pytest.fixture
def small_pages():
    """numpy asks for huge pages on large arrays; the fault counts below assume 4 KiB pages."""
    set_madvise = np._core.multiarray._set_madvise_hugepage
    previous = set_madvise(False)
    yield
    set_madvise(previous)


@pytest.mark.skipif(_memory._libc() is None, reason="needs glibc's mallopt")
def test_freed_memory_is_reused_inside_the_block_and_given_back_after(small_pages):
    outside = _faults_of_two_allocations()
    with reuse_freed_memory():
        _faults_of_two_allocations()  # the heap grows once
        with reuse_freed_memory():
            pass  # a nested block leaving does not end the setting
        inside = _faults_of_two_allocations()
    after = _faults_of_two_allocations()
    assert outside >= 1.8 * _PAGES  # each allocation is a fresh mapping: every page faults
    assert inside < 0.1 * _PAGES  # the freed block serves the next allocation
    assert after >= 1.8 * _PAGES  # glibc's settings are back


def test_values_are_the_same_inside_the_block():
    rng = np.random.default_rng(0)
    a = rng.random((300, 200))
    outside = a @ a.T
    with reuse_freed_memory():
        inside = a @ a.T
    assert np.array_equal(outside, inside)


@pytest.mark.parametrize(("given", "expected"), [(None, "1"), ("0", "0")])
def test_importing_the_package_asks_torch_for_huge_pages_unless_told_otherwise(given, expected):
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    if given is not None:
        env["THP_MEM_ALLOC_ENABLE"] = given
    code = "import os, topo_graphdb; print(os.environ['THP_MEM_ALLOC_ENABLE'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected
