// Predicted links of a batch of source nodes, replaced atomically per source node.
// $rows = [[source id, [target ids best first], [scores], [{more link properties}]], ...].
// 1. With $replace, delete the source's links of this type to nodes this run does not predict
//    (whatever run wrote them).
// 2. MERGE each link on its two end nodes (a re-run never duplicates) and set its properties:
//    a link an earlier run wrote to a predicted node is taken over (updated in place).
// 3. Set the node lists (ids and scores of the targets found, best first).
UNWIND $rows AS row
OPTIONAL MATCH {{match_source}}
CALL (row, a) {
  WITH row, a
  WHERE a IS NOT NULL AND $replace
  MATCH (a)-[old:{{rel_type}}]->(x)
  WHERE NOT {{target_id}} IN row[1]
  DELETE old
  RETURN count(old) AS deleted
}
CALL (row, a) {
  WITH row, a
  WHERE a IS NOT NULL
  UNWIND range(0, size(row[1]) - 1) AS i
  MATCH {{match_target}}
  MERGE (a)-[p:{{rel_type}}]->(b)
  SET p += {score: row[2][i], rank: i + 1, model: $model, run_id: $run_id, created_at: $now}
  SET p += row[3][i]
  RETURN collect(row[1][i]) AS got, collect(row[2][i]) AS got_scores
}
SET {{node_sets}}
RETURN count(a) AS matched,
       sum(deleted) AS deleted,
       sum(size(got)) AS written,
       sum(CASE WHEN a IS NULL THEN 0 ELSE size(row[1]) - size(got) END) AS missing_targets,
       count(row) - count(a) AS missing,
       collect(CASE WHEN a IS NULL THEN row[0] END)[..$sample_size] AS missing_sample
