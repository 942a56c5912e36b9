// Runs of one scope, newest first (planning, `runs`, retention).
CREATE INDEX topo_run_scope IF NOT EXISTS FOR (r:TopoRun) ON (r.scope, r.started_at)
