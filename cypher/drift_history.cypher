// Drift history: for the nodes that gained relationships since the previous run, their mean TC with
// the new relationships as evaluation edges (TC^New) against their mean TC^Train before. A ratio
// well below 1 means new links land where neighbourhoods do not concentrate (the paper's
// topological distribution shift): predictions for those nodes get worse.
// Parameters: $limit (e.g. 50).
// Use: topo-graphdb query -f cypher/drift_history.cypher --param limit=50   (or: topo-graphdb drift)
MATCH (r:TopoRun)
WHERE r.status = 'succeeded' AND r.drift_new_edges IS NOT NULL
RETURN r.run_id AS run_id,
       r.started_at AS started_at,
       r.drift_since_run AS since_run,
       r.drift_new_edges AS new_edges,
       r.drift_nodes AS nodes_gaining_edges,
       r.drift_nodes_compared AS nodes_compared,
       r.drift_tc_new AS mean_tc_new,
       r.drift_tc_train AS mean_tc_train,
       r.drift_ratio AS ratio,
       r.drift_alert AS alert
ORDER BY r.started_at DESC
LIMIT $limit
