"""Identifiers quoted into generated Cypher: quoting, injection, rejection."""

from __future__ import annotations

import pytest

from topo_graphdb._cypher import quote_identifier
from topo_graphdb.errors import InputError


class TestIdentifiers:
    @pytest.mark.parametrize(
        "name, quoted",
        [("Paper", "`Paper`"), ("my label", "`my label`"), ("a`b", "`a``b`"), ("Zeitschrift_ä", "`Zeitschrift_ä`")],
    )
    def test_quotes(self, name, quoted):
        assert quote_identifier(name) == quoted

    def test_injection_stays_inside_the_quotes(self):
        q = quote_identifier("X`) DETACH DELETE n //")
        assert q.startswith("`") and q.endswith("`")
        # every backtick inside is doubled, so the name cannot close the quoting early
        assert q[1:-1].replace("``", "") .count("`") == 0

    @pytest.mark.parametrize("bad", ["", "   ", "a\x00b", "line\nbreak", "x" * 300])
    def test_rejects(self, bad):
        with pytest.raises(InputError):
            quote_identifier(bad)
