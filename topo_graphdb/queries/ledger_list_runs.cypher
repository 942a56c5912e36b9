// Runs, newest first, optionally of one scope or status.
MATCH (r:TopoRun)
WHERE ($scope IS NULL OR r.scope = $scope) AND ($status IS NULL OR r.status = $status)
RETURN r {.*} AS run
ORDER BY r.started_at DESC
LIMIT $limit
