"""Property-based checks of every input reader: generated inputs never raise anything but the
project's own errors, each error is one line, and the CLI answers with the documented exit code.

Targets: the edge CSV, node list and ``write`` CSV readers (:mod:`topo_graphdb.edgefile`), the
sync config loader (:mod:`topo_graphdb.config`), the ``--where`` parser and identifier quoting
(:mod:`topo_graphdb.connector`), and ``topo-graphdb tc`` through click's CliRunner. The number of
inputs each test tries is its ``max_examples`` (``pytest --hypothesis-show-statistics`` shows them).

The inputs are the same on every run, so the suite passes or fails the same way each time;
``TOPO_FUZZ_RANDOM=1`` draws new ones (run it now and then to look further).
"""

from __future__ import annotations

import json
import math
import os
import string
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from topo_graphdb._cypher import quote_identifier  # noqa: E402
from topo_graphdb.config import load_config  # noqa: E402
from topo_graphdb.connector import Predicate, parse_predicate  # noqa: E402
from topo_graphdb.edgefile import (  # noqa: E402
    INT64_MAX,
    INT64_MIN,
    read_edge_csv,
    read_node_list,
    read_node_values,
    read_scored_links,
)
from topo_graphdb.errors import InputError, TopoGraphError  # noqa: E402


def fuzz(examples: int) -> settings:
    """``examples`` generated inputs, no deadline (a loaded machine), no example database on disk."""
    return settings(
        max_examples=examples, deadline=None, database=None, derandomize=not os.environ.get("TOPO_FUZZ_RANDOM"),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )  # fmt: skip


def one_line(err: BaseException) -> None:
    text = str(err)
    assert text and "\n" not in text and "\r" not in text, repr(text)
    event(f"refused: {type(err).__name__}")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# --------------------------------------------------------------------------- CSV text
_EDGE_INT = st.integers(min_value=INT64_MIN, max_value=INT64_MAX)
_cell = st.one_of(
    _EDGE_INT.map(str),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),  # around and past the int64 edges
    st.sampled_from(["", " ", "1e1", "3.0", "-0", "+7", "007", "0x10", "1_000", "nan", "inf", "NA", "٣", '"1"', "\t5 "]),
    st.floats(allow_nan=True).map(repr),
    st.text(min_size=0, max_size=8),
)
_row_sep = st.sampled_from([",", ";", "\t", ",,"])


@st.composite
def csv_text(draw, header: list[str]) -> bytes:
    """Half the time a well-formed file (the header, exact int64 ids, small values), else anything goes."""
    if draw(st.booleans()):
        small = st.integers(min_value=-3, max_value=12)
        cell = draw(st.sampled_from([small, _EDGE_INT, st.sampled_from([INT64_MIN, INT64_MAX, 0])])).map(str)
        rows = draw(st.lists(st.lists(cell, min_size=len(header), max_size=len(header)), min_size=1, max_size=10))
        return ("\n".join([",".join(header)] + [",".join(r) for r in rows]) + "\n").encode()
    cols = draw(st.lists(st.sampled_from([*header, "x", "src ", " node"]), min_size=0, max_size=4)) if draw(st.booleans()) else header
    rows = draw(st.lists(st.lists(_cell, min_size=0, max_size=len(cols) + 1), max_size=8))
    lines = [",".join(cols)] + [draw(_row_sep).join(r) for r in rows]
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), "")  # a blank line
    text = "\n".join(lines) + draw(st.sampled_from(["", "\n", "\r\n", "\n\n"]))
    raw = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        raw = draw(st.binary(max_size=64)) + raw  # binary garbage in front
    return raw


@fuzz(350)
@given(data=csv_text(["src", "dst"]), time=st.booleans())
def test_edge_csv(scratch, data, time):
    p = scratch / "edges.csv"
    p.write_bytes(data)
    try:
        table = read_edge_csv(p, time_col="x" if time else None, allow_empty=True)
    except InputError as err:
        one_line(err)
        return
    event("accepted")
    assert table.src.dtype.kind == "i" and table.src.shape == table.dst.shape
    if table.time is not None:
        assert all(math.isfinite(t) for t in table.time.tolist())


@fuzz(200)
@given(data=st.one_of(csv_text(["node"]), csv_text(["id"]), st.binary(max_size=80)))
def test_node_list(scratch, data):
    p = scratch / "nodes.csv"
    p.write_bytes(data)
    try:
        ids = read_node_list(p)
    except InputError as err:
        one_line(err)
        return
    event("accepted")
    assert ids.dtype.kind == "i"


@fuzz(200)
@given(data=csv_text(["node", "score", "kind"]), links=csv_text(["src", "dst", "score"]), keys=st.booleans())
def test_write_csv(scratch, data, links, keys):
    p, q = scratch / "values.csv", scratch / "links.csv"
    p.write_bytes(data)
    q.write_bytes(links)
    try:
        ids, cols = read_node_values(p, integer_keys=keys)
        event("accepted values")
        assert len({type(v) for v in ids.tolist()}) == 1  # one id type, never a mix
        assert all(len(c) == len(ids) for c in cols.values())
    except InputError as err:
        one_line(err)
    try:
        src, dst, score = read_scored_links(q, integer_keys=keys)
        event("accepted links")
        assert len({type(v) for v in src.tolist() + dst.tolist()}) == 1
        assert src.shape == dst.shape == score.shape
    except InputError as err:
        one_line(err)


# --------------------------------------------------------------------------- sync config
_SECTIONS = {
    "selection": ["labels", "rel_types", "where", "rel_where", "key_property", "timestamp_property", "feature_properties"],
    "score": ["tc", "hops", "beta", "atc", "atc_hops", "atc_dim", "seed", "memory_budget"],
    "predict": ["enabled", "model", "epochs", "hidden", "batch_size", "top_k", "min_score", "trust", "trust_holdout", "device"],
    "write": ["prefix", "relationship_type", "batch_size", "rate_limit"],
    "run": ["backend", "only", "since", "full_every", "max_runtime", "wait", "wait_timeout", "lock_ttl",
            "drift_threshold", "drift_action", "keep_runs"],
    "compute": ["scheduler", "model_cache"],
}
_word = st.text(alphabet=string.ascii_letters + string.digits + " _-:.[]\"'`=<>,", max_size=12)
_scalar = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    _word,
    st.sampled_from(["auto", "gcn", "2h", "30m", "4GB", "1e999", "last", "2024-01-01", "year >= 2010", "x IN [1, 2]",
                     "0001-01-01T00:00:00+23:59", "9" * 30, "[" * 40]),
)
_value = st.one_of(_scalar, st.lists(_scalar, max_size=4), st.lists(st.lists(_scalar, max_size=2), max_size=2))


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(v) if isinstance(v, str) else str(v)


@st.composite
def sync_settings(draw):
    lines = []
    for section in draw(st.lists(st.sampled_from([*_SECTIONS, "other"]), unique=True, max_size=4)):
        lines.append(f"[{section}]")
        keys = _SECTIONS.get(section, ["x"]) + ["unknown_key"]
        for key in draw(st.lists(st.sampled_from(keys), unique=True, max_size=4)):
            lines.append(f"{key} = {toml_value(draw(_value))}")
    env = {}
    for section, key in draw(st.lists(st.sampled_from([(s, k) for s, ks in _SECTIONS.items() for k in ks]), max_size=2)):
        env[f"TOPO_SYNC_{section}_{key}".upper()] = draw(_word | st.sampled_from(["9" * 400, "[" * 5000, "nan"]))
    overrides = {f"{s}.{k}": draw(_value | st.integers(min_value=-(10**400), max_value=10**400))
                 for s, k in draw(st.lists(st.sampled_from([(s, k) for s, ks in _SECTIONS.items() for k in ks]), max_size=2))}
    return "\n".join(lines) + "\n", env, overrides


@fuzz(400)
@given(case=sync_settings(), raw=st.one_of(st.none(), st.binary(max_size=60)))
def test_sync_config(scratch, case, raw):
    text, env, overrides = case
    p = scratch / "sync.toml"
    p.write_bytes(raw if raw is not None else text.encode())
    try:
        cfg = load_config(p, overrides=overrides, environ=env)
    except InputError as err:
        one_line(err)
        return
    event("accepted")
    try:
        cfg.graph_spec()
    except InputError as err:
        one_line(err)
    cfg.params_hash()


# --------------------------------------------------------------------------- --where and identifiers
_OPS = ["=", "<>", "<", "<=", ">", ">=", "IN", "in", "STARTS WITH", "CONTAINS", "IS NULL", "is not null", "=="]
_json_value = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=8,
)


@st.composite
def predicate_text(draw) -> str:
    prop = draw(st.sampled_from(["year", "`first name`", "`odd``name`", "", "a b"]) | st.text(max_size=6))
    op = draw(st.sampled_from(_OPS))
    value = draw(st.one_of(
        _json_value.map(lambda v: json.dumps(v)),
        st.text(max_size=10),
        st.sampled_from(["'Al'", "['a', 'b']", "['a\\', 'b']", "[" * 200, "[" * 40 + "]" * 40, "99999999999999999999",
                         '"\\ud800"', "'", "[1, [2, [3]]]"]),
    ))
    return f"{prop} {op} {value}"


@fuzz(700)
@given(text=st.one_of(predicate_text(), st.text(max_size=30)))
def test_where_predicate(text):
    try:
        p = parse_predicate(text)
    except InputError as err:
        one_line(err)
        return
    event("accepted")
    assert p.cypher("n", "p0").startswith("n.`")
    str(p)
    json.dumps(p.param_value(), default=str)


@fuzz(250)
@given(prop=st.text(max_size=8), op=st.sampled_from(_OPS), value=_json_value)
def test_predicate_objects(prop, op, value):
    try:
        Predicate(prop, op, value)
    except InputError as err:
        one_line(err)


@fuzz(250)
@given(name=st.one_of(
    st.text(st.characters(categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=20),  # mostly valid names
    st.text(max_size=20), st.text(min_size=250, max_size=260), st.none(), st.integers(),
))
def test_quote_identifier(name):
    try:
        quoted = quote_identifier(name)
    except InputError as err:
        one_line(err)
        return
    event("accepted")
    assert quoted.startswith("`") and quoted.endswith("`") and "`" not in quoted[1:-1].replace("``", "")


# --------------------------------------------------------------------------- tc CLI
@fuzz(100)
@given(
    edges=csv_text(["src", "dst"]),
    nodes=st.none() | csv_text(["node"]) | st.binary(max_size=40),
    extra=st.lists(st.sampled_from([["--hops", "0"], ["--hops", "5"], ["--hops", "2"], ["--beta", "-1"], ["--beta", "nan"],
                                    ["--beta", "0.5"], ["--estimate"], ["--approx"], ["--dim", "4"], ["--memory-budget", "1"],
                                    ["--memory-budget", "9" * 30 + "G"], ["--hops", "x"]]), max_size=2),
)
def test_tc_cli(scratch, edges, nodes, extra):
    from click.testing import CliRunner

    from topo_graphdb.cli import main

    (scratch / "tc_edges.csv").write_bytes(edges)
    args = ["tc", "--edges", str(scratch / "tc_edges.csv"), "--output", str(scratch / "tc_out.csv"), "--backend", "cpu"]
    if nodes is not None:
        (scratch / "tc_nodes.csv").write_bytes(nodes)
        args += ["--nodes", str(scratch / "tc_nodes.csv")]
    for option in extra:
        args += option
    result = CliRunner().invoke(main, args)
    event(f"exit {result.exit_code}")
    assert isinstance(result.exception, (SystemExit, type(None))), repr(result.exception)
    if result.exit_code != 0:
        lines = result.stderr.strip().splitlines()
        assert lines and lines[-1].startswith("error: ") and sum(x.startswith("error: ") for x in lines) == 1, result.stderr
        assert not lines[-1].startswith("error: unexpected "), result.stderr  # a crash, not a refusal
        assert result.exit_code in (2, 3, 7, 9), (result.exit_code, result.stderr)


def test_project_errors_are_one_line():
    # the guarantee the checks above lean on: messages with line breaks still print as one line
    assert "\n" not in str(TopoGraphError("a\nb", hint="c\r\nd"))
