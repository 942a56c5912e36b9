// Progress of a running run (phase, counts, timings) and its heartbeat.
MATCH (r:TopoRun {run_id: $run_id})
SET r += $props, r.heartbeat_at = datetime()
RETURN count(r) AS updated
