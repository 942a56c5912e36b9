// Delete ledger nodes by run id.
MATCH (r:TopoRun) WHERE r.run_id IN $run_ids
DETACH DELETE r
RETURN count(*) AS deleted
