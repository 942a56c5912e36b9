"""The query command's helpers: parameters from JSON or strings, result rendering."""

from __future__ import annotations

import json

import pytest

from topo_graphdb.errors import InputError
from topo_graphdb.query import parse_params, render_result


class TestQueryHelpers:
    def test_params_json_or_string(self):
        assert parse_params(["a=1", "b=[1,2]", "c=Paper", "d="]) == {"a": 1, "b": [1, 2], "c": "Paper", "d": ""}
        with pytest.raises(InputError):
            parse_params(["novalue"])

    def test_render_formats(self):
        keys, rows = ["n", "m"], [[1, {"a": 1}], [None, "x"]]
        assert render_result(keys, rows, "csv").splitlines() == ["n,m", '1,"{""a"": 1}"', ",x"]
        assert json.loads(render_result(keys, rows, "json")) == [{"n": 1, "m": {"a": 1}}, {"n": None, "m": "x"}]
        table = render_result(keys, rows, "table").splitlines()
        assert table[0].split("|")[0].strip() == "n" and table[-1] == "(2 rows)"
