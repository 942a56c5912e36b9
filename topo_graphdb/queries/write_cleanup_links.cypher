// Delete links of this type that do not belong to run $keep (only of model $model when given).
MATCH ()-[r:{{rel_type}}]->()
WHERE (r.run_id IS NULL OR r.run_id <> $keep) AND ($model IS NULL OR r.model = $model)
CALL (r) {
  DELETE r
} IN TRANSACTIONS OF $batch ROWS
RETURN count(*) AS deleted
