// Sync runs recorded in the ledger, newest first: status, mode, size, what was re-scored, timings.
// Parameters: $status ('running', 'succeeded', 'failed'; null = all), $limit (e.g. 20).
// Use: topo-graphdb query -f cypher/runs.cypher --param status=null --param limit=20
// (or: topo-graphdb runs; topo-graphdb runs show RUN_ID)
MATCH (r:TopoRun)
WHERE $status IS NULL OR r.status = $status
RETURN r.run_id AS run_id,
       r.status AS status,
       r.mode AS mode,
       r.started_at AS started_at,
       r.finished_at AS finished_at,
       r.seconds AS seconds,
       r.nodes AS nodes,
       r.edges AS edges,
       r.rescored AS rescored,
       r.beta AS beta,
       r.hops AS hops,
       r.tc_mean AS tc_mean,
       r.links_predicted AS links_predicted,
       r.error AS error
ORDER BY r.started_at DESC
LIMIT $limit
