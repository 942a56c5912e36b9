// Start a run: the ledger node exists (status running) before any work is done.
// $props: run_id, scope, mode, params, params_hash, versions, host, pid, ... (scalars only).
CREATE (r:TopoRun)
SET r = $props, r.status = 'running', r.started_at = datetime(), r.heartbeat_at = datetime()
RETURN r.started_at AS started_at
