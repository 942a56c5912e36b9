// Relationship pass of an export: for groups of $group_size selected source nodes, each source's
// selected outgoing relationships as lists (target element ids, and optionally times and
// weights, missing ones as $missing = NaN so that the lists stay aligned), so that a record
// carries thousands of relationships. Element ids are used even when nodes have a key property:
// they cost the server less than reading a property of every end node.
// Placeholders as in export_nodes; source_filter (predicates on a), rel_filter (on r and b),
// rel_collects / rel_carry / rel_group / rel_columns add times and weights. Sources without
// selected relationships are skipped (the node pass lists every node).
MATCH (a{{labels}})
WHERE {{source_filter}}
WITH collect(a) AS nodes
UNWIND range(0, size(nodes) - 1, $group_size) AS start
CALL (nodes, start) {
  UNWIND nodes[start..start + $group_size] AS a
  CALL (a) {
    MATCH (a)-[r{{rel_types}}]->(b{{labels}})
    WHERE {{rel_filter}}
    RETURN collect(elementId(b)) AS targets{{rel_collects}}
  }
  WITH a, targets{{rel_carry}}
  WHERE size(targets) > 0
  RETURN collect(elementId(a)) AS sources, collect(targets) AS targets{{rel_group}}
}
RETURN sources, targets{{rel_columns}}
