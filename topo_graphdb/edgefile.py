"""Reading edge lists from CSV files (the input format of the file-based commands).

A file has a header row; the id columns (``src``, ``dst`` by default) hold
integers; other columns are ignored unless asked for (``time_col``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import EmptyGraphError, InputError

__all__ = ["EdgeTable", "read_csv_frame", "read_edge_csv", "read_node_list"]


@dataclass(frozen=True)
class EdgeTable:
    """Edges as read from a file: original integer ids, in file order."""

    src: np.ndarray
    dst: np.ndarray
    time: np.ndarray | None = None
    path: str = ""

    def __len__(self) -> int:
        return int(self.src.size)


def _integer_column(df, col: str, path: Path) -> np.ndarray:
    import pandas as pd  # noqa: PLC0415

    values = pd.to_numeric(df[col], errors="coerce")
    bad = values.isna() | (values != values.round())
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"{path}: column {col!r} must hold integer ids; row {row + 2} has {df[col].iloc[row]!r}"
        )
    return values.to_numpy().astype(np.int64)


def read_csv_frame(path: str | Path, *, what: str = "file", empty: Exception | None = None):
    """A CSV with a header as a DataFrame of strings (column names stripped).

    One-line :class:`InputError` for a missing or unreadable file; ``empty``
    is raised for a file without even a header (default: an InputError).
    """
    import pandas as pd  # noqa: PLC0415

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} not found: {p}")
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError as err:
        raise (empty or InputError(f"{p} is empty (expected a header row)")) from err
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(f"{p} is not a readable CSV file: {str(err).splitlines()[0]}") from err
    df.columns = [str(c).strip() for c in df.columns]
    return df


def read_edge_csv(
    path: str | Path,
    *,
    src_col: str = "src",
    dst_col: str = "dst",
    time_col: str | None = None,
    allow_empty: bool = False,
) -> EdgeTable:
    """Read an edge CSV with a header; one-line :class:`InputError` on any problem.

    Errors name the file and the problem: missing file, missing column,
    non-integer id, empty file (unless ``allow_empty``).
    """
    import pandas as pd  # noqa: PLC0415

    p = Path(path)
    df = read_csv_frame(
        p,
        what="edge file",
        empty=EmptyGraphError(f"{p} is empty (expected a header with {src_col!r},{dst_col!r})"),
    )
    wanted = [src_col, dst_col] + ([time_col] if time_col else [])
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        raise InputError(f"{p}: missing column(s) {', '.join(map(repr, missing))}; found {', '.join(map(repr, df.columns))}")
    if len(df) == 0 and not allow_empty:
        raise EmptyGraphError(f"{p} has a header but no edges")
    src = _integer_column(df, src_col, p)
    dst = _integer_column(df, dst_col, p)
    time = None
    if time_col:
        t = pd.to_numeric(df[time_col], errors="coerce")
        if t.isna().any():
            row = int(np.flatnonzero(t.isna().to_numpy())[0])
            raise InputError(f"{p}: column {time_col!r} must be numeric; row {row + 2} has {df[time_col].iloc[row]!r}")
        time = t.to_numpy()
    return EdgeTable(src, dst, time, str(p))


def read_node_list(path: str | Path, *, column: str = "node") -> np.ndarray:
    """Integer node ids from a file: a CSV with a ``node`` (or ``id``) column, or one id per line."""
    import pandas as pd  # noqa: PLC0415

    p = Path(path)
    if not p.is_file():
        raise InputError(f"node file not found: {p}")
    df = pd.read_csv(p, dtype=str, keep_default_na=False)
    for col in (column, "id", "node_id"):
        if col in df.columns:
            return _integer_column(df, col, p)
    if df.shape[1] == 1:  # headerless single column: the "header" was the first id
        df = pd.read_csv(p, dtype=str, header=None, names=[column], keep_default_na=False)
        return _integer_column(df, column, p)
    raise InputError(f"{p}: expected a column named {column!r} (or a single column of ids)")
