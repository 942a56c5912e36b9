// Node pass of an export: the selected nodes in groups of $group_size per record (few large
// records stream much faster than one record per node): their element ids (which the
// relationship pass uses), and optionally their keys and values. Placeholders: labels (label
// expression such as :A|B, or empty), node_filter (predicates on n, values as $parameters),
// node_keys (", collect(n.key) AS keys" or empty), node_values (", collect([n.p, ...]) AS vals"
// or empty), node_columns (the names of those). count lets the reader notice nodes whose key is
// missing (collect skips nulls).
MATCH (n{{labels}})
WHERE {{node_filter}}
WITH collect(n) AS nodes
UNWIND range(0, size(nodes) - 1, $group_size) AS start
CALL (nodes, start) {
  UNWIND nodes[start..start + $group_size] AS n
  RETURN collect(elementId(n)) AS ids, count(n) AS count{{node_keys}}{{node_values}}
}
RETURN ids, count{{node_columns}}
