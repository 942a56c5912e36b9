// Runs beyond the newest $keep of each scope (never a running one): retention candidates.
MATCH (r:TopoRun)
WHERE ($scope IS NULL OR r.scope = $scope)
WITH r.scope AS scope, r ORDER BY r.started_at DESC
WITH scope, collect(r) AS runs
UNWIND runs[$keep..] AS old
WITH old WHERE old.status <> 'running'
RETURN old.run_id AS run_id
