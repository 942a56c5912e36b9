// Extend the lock while its holder works; 0 rows updated means the lock was lost.
OPTIONAL MATCH (l:TopoLock {scope: $scope, owner: $owner})
SET l.heartbeat_at = timestamp(), l.expires_at = timestamp() + $ttl_ms
WITH count(l) AS held
OPTIONAL MATCH (r:TopoRun {run_id: $run_id, status: 'running'})
SET r.heartbeat_at = datetime()
RETURN held
