// Dry run of a cleanup: links that would be deleted, nodes whose lists would be cleared.
CALL () {
  MATCH ()-[r:{{rel_type}}]->()
  WHERE (r.run_id IS NULL OR r.run_id <> $keep) AND ($model IS NULL OR r.model = $model)
  RETURN count(r) AS links
}
CALL () {
  MATCH (n)
  WHERE n.{{predicted}} IS NOT NULL
    AND NOT EXISTS { (n)-[r:{{rel_type}}]->() WHERE r.run_id = $keep }
  RETURN count(n) AS nodes
}
RETURN links, nodes
