// The newest runs of one scope (planning an incremental run), newest first.
MATCH (r:TopoRun {scope: $scope})
WHERE r.run_id <> $exclude
RETURN r {.*} AS run
ORDER BY r.started_at DESC
LIMIT $limit
