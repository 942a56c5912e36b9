#!/usr/bin/env python3
"""Run the topo-graphdb command line from a checkout (same as the ``topo-graphdb`` command)."""

from topo_graphdb.cli import main

if __name__ == "__main__":
    main()
