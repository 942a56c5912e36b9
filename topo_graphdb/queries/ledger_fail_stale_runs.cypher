// Runs of this scope still marked running while we hold the scope's lock were abandoned
// (their process died): mark them failed with the reason.
MATCH (r:TopoRun {scope: $scope, status: 'running'})
WHERE r.run_id <> $run_id
SET r.status = 'failed', r.error = $error, r.finished_at = datetime()
RETURN r.run_id AS run_id
