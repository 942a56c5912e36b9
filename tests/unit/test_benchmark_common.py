"""The benchmark scripts' shared helpers (``benchmarks/_common.py``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from _common import scratch_dir
for keep in (False, True):
    path = scratch_dir("test-scratch", keep=keep)
    (path / "store").mkdir()
    (path / "store" / "data").write_bytes(b"x" * 1024)
    print(path)
"""


def test_scratch_folders_are_removed_at_exit_unless_kept(tmp_path):
    """A dedicated server's store (gigabytes) must not outlive the benchmark that made it, unless it is kept."""
    out = subprocess.run([sys.executable, "-c", _SCRIPT, str(BENCHMARKS)], capture_output=True, text=True, check=True,
                         env={"TMPDIR": str(tmp_path), "PATH": ""})  # fmt: skip
    removed, kept = (Path(line) for line in out.stdout.split())
    assert removed.parent == kept.parent == tmp_path
    assert not removed.exists()
    assert (kept / "store" / "data").stat().st_size == 1024
