"""The repository holds no absolute paths of any machine (data and scratch space come from options)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# an absolute folder of a machine: /work/..., /root/..., /Users/..., /tmp/<fixed name>
MACHINE_PATH = re.compile(r"(?<![\w.~$])/(?:work|root|Users|tmp)/[\w.-]+")


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / line for line in out.splitlines() if not line.startswith("topo_graphdb/datasets/")]


def test_no_absolute_machine_paths():
    hits = []
    for path in tracked_files():
        if path.name == Path(__file__).name or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        hits += [f"{path.relative_to(ROOT)}:{n}: {m.group(0)}" for n, line in enumerate(text.splitlines(), 1) for m in MACHINE_PATH.finditer(line)]
    assert not hits, "\n".join(hits)
