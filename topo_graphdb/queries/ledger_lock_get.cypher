// The lock of one scope as it is now (no lock taken).
OPTIONAL MATCH (l:TopoLock {scope: $scope})
RETURN l {.*} AS lock, timestamp() AS now
