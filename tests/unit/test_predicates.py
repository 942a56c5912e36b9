"""The --where predicate language: parsing, rejection, validation, parameterised Cypher."""

from __future__ import annotations

import pytest

from topo_graphdb.errors import InputError
from topo_graphdb.predicates import Predicate, parse_predicate


@pytest.mark.parametrize(
    "text, expected",
    [
        ("year >= 2010", ("year", ">=", 2010)),
        ("year>=2010", ("year", ">=", 2010)),
        ("score < -0.5", ("score", "<", -0.5)),
        ("name = \"Ada\"", ("name", "=", "Ada")),
        ("name = 'Ada Lovelace'", ("name", "=", "Ada Lovelace")),
        ("name <> Ada", ("name", "<>", "Ada")),
        ("kind IN [1, 2, 3]", ("kind", "IN", (1, 2, 3))),
        ("kind in ['a', \"b\"]", ("kind", "IN", ("a", "b"))),
        ("title starts  with 'Deep'", ("title", "STARTS WITH", "Deep")),
        ("title CONTAINS graph", ("title", "CONTAINS", "graph")),
        ("email IS NULL", ("email", "IS NULL", None)),
        ("email is not null", ("email", "IS NOT NULL", None)),
        ("`first name` = 'Al'", ("first name", "=", "Al")),
        ("`we``ird` <= 3", ("we`ird", "<=", 3)),
        ("flag = true", ("flag", "=", True)),
        ("größe > 1.5", ("größe", ">", 1.5)),
        ("index = 4", ("index", "=", 4)),  # a property starting with "in" is not the IN operator
    ],
)
def test_parse_predicate(text, expected):
    p = parse_predicate(text)
    assert (p.prop, p.op, p.value) == expected


@pytest.mark.parametrize("text", ["", "year", "year ~ 3", "year >=", "email IS NULL 3", "kind IN 3", "x STARTS WITH 3"])
def test_parse_predicate_rejects(text):
    with pytest.raises(InputError):
        parse_predicate(text)


@pytest.mark.parametrize(
    "args",
    [("p", "LIKE", 1), ("p", "=", None), ("p", "IS NULL", 3), ("p", "IN", "abc"), ("p", "CONTAINS", 5), ("", "=", 1)],
)
def test_predicate_validation(args):
    with pytest.raises(InputError):
        Predicate(*args)


def test_predicate_cypher_uses_parameter_and_quoted_property():
    p = Predicate("a`) DETACH DELETE n //", "=", "x")
    text = p.cypher("n", "np0")
    assert text == "n.`a``) DETACH DELETE n //` = $np0"
    assert Predicate("p", "is not null").cypher("r", "q") == "r.`p` IS NOT NULL"
