// One run by id, or by a unique prefix of its id.
MATCH (r:TopoRun)
WHERE r.run_id = $run_id OR r.run_id STARTS WITH $run_id
RETURN r {.*} AS run
ORDER BY r.run_id = $run_id DESC, r.started_at DESC
LIMIT 2
