"""What the benchmark scripts share: where the data is, how a graph is read, where scratch space goes.

Data: ``--data-dir`` or the environment variable ``TOPO_GRAPHDB_DATA`` (a folder
with ``<graph>/edges.csv``); no folder of any particular machine is assumed.
Scratch space (a dedicated server's data, caches) comes from :mod:`tempfile` and is
removed when the script exits (a dedicated server's store takes gigabytes).
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import tempfile
from pathlib import Path

DATA_ENV = "TOPO_GRAPHDB_DATA"


def default_data_dir() -> Path | None:
    """The folder named by ``$TOPO_GRAPHDB_DATA``, or None."""
    value = os.environ.get(DATA_ENV, "").strip()
    return Path(value) if value else None


def data_dir_help(what: str = "<graph>/edges.csv") -> str:
    return f"Folder with {what} (default: ${DATA_ENV})."


def scratch_dir(prefix: str, *, keep: bool = False) -> Path:
    """A new private temporary folder, removed with its contents when the process exits unless ``keep``
    (the store of a server left running). Servers started in it must be stopped before then."""
    path = Path(tempfile.mkdtemp(prefix=f"topo-graphdb-{prefix}-"))
    if not keep:
        atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def load_graph(data_dir: Path | None, graph: str, parser):
    """``<data_dir>/<graph>/edges.csv`` as a :class:`~topo_graphdb.snapshot.GraphSnapshot`
    (``parser.error`` when no folder was given)."""
    if data_dir is None:
        parser.error(f"--data-dir is required (or set {DATA_ENV})")
    from topo_graphdb.edgefile import read_edge_csv
    from topo_graphdb.snapshot import GraphSnapshot

    table = read_edge_csv(Path(data_dir) / graph / "edges.csv")
    return GraphSnapshot.from_edges(table.src, table.dst)


def portable_words(words, data_dir: Path | None) -> list[str]:
    """A command line as a result JSON records it: the data folder as ``DATA`` and any other
    absolute path as its file name, so no machine's folders are stored beside the numbers.

    >>> portable_words(["--data-dir", "/data/graphs/", "--json", "/results/out.json", "--seeds", "3"], Path("/data/graphs"))
    ['--data-dir', 'DATA/', '--json', 'out.json', '--seeds', '3']
    """
    base = str(Path(data_dir)) if data_dir else None
    out = []
    for word in map(str, words):
        if base and base in word:
            word = word.replace(base, "DATA")
        elif os.path.isabs(word):
            word = Path(word).name
        out.append(word)
    return out


def parse_seeds(text: str) -> list[int]:
    """``--seeds``: a count N (seeds 0..N-1, N >= 1) or a comma-separated list of seeds."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be a count or a comma-separated list of integers; got {text!r}") from None
    if len(parts) == 1 and "," not in str(text):
        if values[0] < 1:
            raise argparse.ArgumentTypeError(f"a seed count must be at least 1 (seed 0 alone is '--seeds 0,'); got {text!r}")
        return list(range(values[0]))
    if not values:
        raise argparse.ArgumentTypeError("no seeds given")
    return values
