// Remove every ledger and lock node.
MATCH (r) WHERE r:TopoRun OR r:TopoLock
DETACH DELETE r
RETURN count(*) AS deleted
