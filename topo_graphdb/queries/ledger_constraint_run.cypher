// One ledger node per run id (also the index behind `runs show ID`).
CREATE CONSTRAINT topo_run_id IF NOT EXISTS FOR (r:TopoRun) REQUIRE r.run_id IS UNIQUE
