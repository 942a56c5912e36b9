// Take the write lock on the scope's lock node (created on first use) and read it under
// that lock: the caller decides in the same transaction whether it may take it over.
MERGE (l:TopoLock {scope: $scope})
SET l.touched_at = timestamp()
RETURN l {.*} AS lock, timestamp() AS now
