// Release the lock if we still hold it (the node stays, empty, for the next MERGE).
MATCH (l:TopoLock {scope: $scope, owner: $owner})
SET l.owner = null, l.run_id = null, l.host = null, l.pid = null, l.pid_started = null,
    l.expires_at = null, l.released_at = timestamp()
RETURN count(l) AS released
