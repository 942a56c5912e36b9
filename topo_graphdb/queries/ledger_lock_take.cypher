// Become the holder of the scope's lock (in the transaction that touched it).
MATCH (l:TopoLock {scope: $scope})
SET l += $holder, l.acquired_at = timestamp(), l.heartbeat_at = timestamp(), l.expires_at = timestamp() + $ttl_ms
RETURN l.expires_at AS expires_at
