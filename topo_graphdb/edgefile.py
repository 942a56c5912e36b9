"""Reading CSV input: edge lists, node lists, and the node values and links that ``write`` sends.

Every CSV read by the package goes through this module. A file has a header
row (a node list may instead hold one id per line); id columns hold decimal
integers in the 64-bit range (``-9223372036854775808..9223372036854775807``),
written without exponent or decimal point: ``1e1`` and ``3.0`` are refused,
never rounded, and an id out of range is refused, never wrapped. Lines with
no text at all are skipped; an error names the file, the line, the column
and the value.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import EmptyGraphError, InputError

__all__ = [
    "EdgeTable",
    "INT64_MIN",
    "INT64_MAX",
    "parse_integer_ids",
    "read_csv_frame",
    "read_edge_csv",
    "read_node_list",
    "read_node_values",
    "read_scored_links",
]

#: The id range: what numpy's int64 and Neo4j's INTEGER hold.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_INTEGER = r"[+-]?[0-9]+"  # ASCII digits only (Python's int() also takes "1_000" and other scripts' digits)
_SHOWN = 60  # characters of a bad value quoted in a message


@dataclass(frozen=True)
class EdgeTable:
    """Edges as read from a file: original integer ids, in file order."""

    src: np.ndarray
    dst: np.ndarray
    time: np.ndarray | None = None
    path: str = ""

    def __len__(self) -> int:
        return int(self.src.size)


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


def _line(values: Any, pos: int, first_line: int) -> int:
    """File line of row ``pos`` (the frame's index counts data lines, blank ones included)."""
    return int(values.index[pos]) + first_line


def parse_integer_ids(values: Any, *, where: str, column: str, first_line: int = 2) -> np.ndarray:
    """Exact int64 ids from CSV text; one-line :class:`InputError` naming the line of the first bad one.

    Parameters
    ----------
    values : a pandas Series of strings (a column of :func:`read_csv_frame`);
        its index is the data line number counted from 0.
    where : the file, as named in messages.
    column : the column's name, as named in messages.
    first_line : the file line of index 0 (2 below a header, 1 without one).

    Accepts decimal integers with an optional sign and surrounding spaces;
    refuses blanks, ``1e1``, ``3.0``, ``0x10`` and values outside
    ``INT64_MIN..INT64_MAX``.

    >>> import pandas as pd
    >>> parse_integer_ids(pd.Series(["7", " -3", "+12"]), where="f.csv", column="src").tolist()
    [7, -3, 12]
    >>> parse_integer_ids(pd.Series(["7", "1e1"]), where="f.csv", column="src")
    Traceback (most recent call last):
    ...
    topo_graphdb.errors.InputError: f.csv line 3: column 'src' must hold integer ids; got '1e1'
    """
    text = values.astype(str).str.strip()
    ok = text.str.fullmatch(_INTEGER).to_numpy(dtype=bool)
    if not ok.all():
        pos = int(np.flatnonzero(~ok)[0])
        raw = str(text.iloc[pos])
        what = "is empty" if raw == "" else f"must hold integer ids; got {_shown(raw)}"
        raise InputError(f"{where} line {_line(text, pos, first_line)}: column {column!r} {what}")
    # up to 18 characters always fit; longer ones (a sign or leading zeros included) are checked exactly
    for pos in np.flatnonzero(text.str.len().to_numpy() > 18):
        if not INT64_MIN <= int(text.iloc[pos]) <= INT64_MAX:
            raise InputError(
                f"{where} line {_line(text, pos, first_line)}: column {column!r} holds {_shown(text.iloc[pos])}, "
                f"outside the 64-bit id range {INT64_MIN}..{INT64_MAX}"
            )
    return text.to_numpy(dtype=str).astype(np.int64) if len(text) else np.zeros(0, np.int64)


def read_csv_frame(path: str | Path, *, what: str = "file", empty: Exception | None = None, header: bool = True):
    """A CSV as a DataFrame of strings (column names stripped); index = data line number from 0.

    Lines with no text (or only separators) are dropped, keeping the index of
    the others, so ``index + 2`` (``+ 1`` with ``header=False``) is the file
    line. One-line :class:`InputError` for a missing, unreadable or non-text
    file; ``empty`` is raised for a file without even a header (default: an
    InputError).
    """
    import pandas as pd  # noqa: PLC0415

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} not found: {p}")
    try:
        with warnings.catch_warnings():
            # with index_col=False, pandas drops the extra fields of a long row with only a warning
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(
                p, dtype=str, keep_default_na=False, skipinitialspace=True, skip_blank_lines=False,
                header=0 if header else None, index_col=False, encoding="utf-8",
            )  # fmt: skip
    except pd.errors.ParserWarning as err:
        raise InputError(f"{p} is not a readable CSV file: a row has more fields than the header") from err
    except pd.errors.EmptyDataError as err:
        raise (empty or InputError(f"{p} is empty (expected a header row)")) from err
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise InputError(f"{p} is not a readable CSV text file: {first}") from err
    except OSError as err:
        raise InputError(f"{what} cannot be read: {p} ({err.strerror})") from err
    df.columns = [str(c).strip() for c in df.columns]
    repeated = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if repeated:
        raise InputError(f"{p}: column name(s) {', '.join(map(repr, repeated))} appear more than once in the header")
    if len(df):
        df = df[~(df == "").all(axis=1).to_numpy()]
    return df


def _columns_present(df: Any, wanted: list[str], p: Path) -> None:
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        raise InputError(f"{p}: missing column(s) {', '.join(map(repr, missing))}; found {', '.join(map(repr, df.columns))}")


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
    an id that is not an integer in the int64 range (see
    :func:`parse_integer_ids`), a time that is not a finite number, empty file
    (unless ``allow_empty``).
    """
    import pandas as pd  # noqa: PLC0415

    p = Path(path)
    df = read_csv_frame(
        p,
        what="edge file",
        empty=EmptyGraphError(f"{p} is empty (expected a header with {src_col!r},{dst_col!r})"),
    )
    _columns_present(df, [src_col, dst_col] + ([time_col] if time_col else []), p)
    if len(df) == 0 and not allow_empty:
        raise EmptyGraphError(f"{p} has a header but no edges")
    src = parse_integer_ids(df[src_col], where=str(p), column=src_col)
    dst = parse_integer_ids(df[dst_col], where=str(p), column=dst_col)
    time = None
    if time_col:
        t = pd.to_numeric(df[time_col].str.strip(), errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(t)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{p} line {_line(df, pos, 2)}: column {time_col!r} must be a finite number; "
                f"got {_shown(str(df[time_col].iloc[pos]))}"
            )
        time = t
    return EdgeTable(src, dst, time, str(p))


def read_node_list(path: str | Path, *, column: str = "node") -> np.ndarray:
    """Integer node ids from a file: a CSV with a ``node`` (or ``id``, ``node_id``) column, or one id per line."""
    p = Path(path)
    empty = EmptyGraphError(f"{p} is empty (expected a {column!r} column or one node id per line)")
    df = read_csv_frame(p, what="node file", empty=empty)
    for col in (column, "id", "node_id"):
        if col in df.columns:
            return parse_integer_ids(df[col], where=str(p), column=col)
    if df.shape[1] == 1:  # headerless single column: the "header" was the first id
        df = read_csv_frame(p, what="node file", empty=empty, header=False)
        return parse_integer_ids(df.iloc[:, 0], where=str(p), column=column, first_line=1)
    raise InputError(f"{p}: expected a column named {column!r} (or a single column of ids)")


# --------------------------------------------------------------------------- input of ``write``
def _node_keys(columns: list[Any], names: list[str], p: Path, *, integer_keys: bool) -> list[np.ndarray]:
    """Ids of ``write`` (one array per column, all of one type).

    Element ids are text. Key values are integers when every id is one (exact,
    int64), text when none is; a file mixing both is refused, since a key
    property holds one type and ``"7"`` would not find the node whose key is 7.
    """
    for col, name in zip(columns, names):
        text = col.astype(str).str.strip()
        empty = (text == "").to_numpy()
        if empty.any():
            raise InputError(f"{p} line {_line(col, int(np.flatnonzero(empty)[0]), 2)}: column {name!r} has an empty id")
    if not integer_keys:
        return [col.to_numpy(dtype=object) for col in columns]
    looks = [col.astype(str).str.strip().str.fullmatch(_INTEGER).to_numpy(dtype=bool) for col in columns]
    if all(x.all() for x in looks):
        return [parse_integer_ids(col, where=str(p), column=name) for col, name in zip(columns, names)]
    if not any(x.any() for x in looks):
        return [col.to_numpy(dtype=object) for col in columns]
    example = {}
    for col, name, x in zip(columns, names, looks):
        for kind, mask in (("integer", x), ("text", ~x)):
            if kind not in example and mask.any():
                pos = int(np.flatnonzero(mask)[0])
                example[kind] = f"line {_line(col, pos, 2)} {name!r} has {_shown(str(col.iloc[pos]))}"
    raise InputError(
        f"{p}: key ids mix integers and text ({example['integer']}, {example['text']})",
        hint="a key property holds one type; write every id as an integer, or every one as text",
    )


def _value_column(values: Any) -> np.ndarray:
    """A value column: int64 when every cell is an integer (exact); numbers when every non-empty cell is one
    (float64, empty -> NaN); else text (empty -> None)."""
    import pandas as pd  # noqa: PLC0415

    text = values.astype(str).str.strip()
    empty = (text == "").to_numpy()
    is_int = text.str.fullmatch(_INTEGER).to_numpy(dtype=bool)
    if is_int.all() and values.size:
        ints = [int(v) for v in text] if (text.str.len() > 18).any() else None
        if ints is None or all(INT64_MIN <= v <= INT64_MAX for v in ints):
            return text.to_numpy(dtype=str).astype(np.int64)
    num = pd.to_numeric(text.where(~empty), errors="coerce").to_numpy(dtype=np.float64)
    if not (np.isnan(num) & ~empty).any():
        return num
    out = values.to_numpy(dtype=object)
    out[empty] = None
    return out


def read_node_values(path: str | Path, *, id_column: str = "node", integer_keys: bool = False) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``write --from``: node ids (``id_column``) and one value column per other column.

    Ids are element ids (text) unless ``integer_keys`` (key values: integers
    when every id is one; see :func:`_node_keys`). Values: integers, numbers
    (an empty cell is NaN: the property is removed) or text (empty -> None).
    A file without data rows is an error: it would write nothing.
    """
    p = Path(path)
    df = read_csv_frame(p, what="node value file")
    if id_column not in df.columns:
        raise InputError(f"{p}: no id column {id_column!r}; found {', '.join(map(repr, df.columns))}")
    if df.shape[1] < 2:
        raise InputError(f"{p}: no value columns besides {id_column!r}")
    if len(df) == 0:
        raise EmptyGraphError(f"{p} has a header but no rows to write")
    [ids] = _node_keys([df[id_column]], [id_column], p, integer_keys=integer_keys)
    return ids, {c: _value_column(df[c]) for c in df.columns if c != id_column}


def read_scored_links(path: str | Path, *, integer_keys: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``write --links``: ``src, dst, score`` (ids as in :func:`read_node_values`, shared by both columns)."""
    import pandas as pd  # noqa: PLC0415

    p = Path(path)
    df = read_csv_frame(p, what="links file")
    _columns_present(df, ["src", "dst", "score"], p)
    if len(df) == 0:
        raise EmptyGraphError(f"{p} has a header but no links to write")
    src, dst = _node_keys([df["src"], df["dst"]], ["src", "dst"], p, integer_keys=integer_keys)
    scores = pd.to_numeric(df["score"].str.strip(), errors="coerce").to_numpy(dtype=np.float64)
    if np.isnan(scores).any():
        pos = int(np.flatnonzero(np.isnan(scores))[0])
        raise InputError(f"{p} line {_line(df, pos, 2)}: column 'score' must be numeric; got {_shown(str(df['score'].iloc[pos]))}")
    return src, dst, scores
