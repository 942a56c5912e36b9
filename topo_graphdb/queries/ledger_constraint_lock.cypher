// One lock node per scope (database + selection); MERGE on it is then race-free.
CREATE CONSTRAINT topo_lock_scope IF NOT EXISTS FOR (l:TopoLock) REQUIRE l.scope IS UNIQUE
