// Clear the predicted-node lists of nodes left without a link of run $keep.
MATCH (n)
WHERE n.{{predicted}} IS NOT NULL AND NOT EXISTS { (n)-[r:{{rel_type}}]->() WHERE r.run_id = $keep }
CALL (n) {
  REMOVE n.{{predicted}}, n.{{predicted_scores}}
} IN TRANSACTIONS OF $batch ROWS
RETURN count(*) AS cleared
