// Graph summary: node and relationship counts per label / type.
// Parameters: $label (node label, e.g. 'Paper'), $rel_type (relationship type, e.g. 'CITES').
// Use: topo-graphdb query -f cypher/graph_summary.cypher --param label=Paper --param rel_type=CITES
MATCH (n) WHERE $label IN labels(n)
WITH count(n) AS nodes
OPTIONAL MATCH ()-[r]->() WHERE type(r) = $rel_type
RETURN $label AS label, nodes, $rel_type AS rel_type, count(r) AS relationships
