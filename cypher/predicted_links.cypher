// The predicted links of one node, best first, with how far each end can be trusted.
// Parameters: $node (the node's key value, e.g. 42, or its elementId), $key_property (e.g. 'id';
//             null when $node is an elementId), $label (e.g. 'Paper'; null = any label).
// Use: topo-graphdb query -f cypher/predicted_links.cypher --param node=42 --param key_property=id --param label=Paper
MATCH (a)-[l:PREDICTED_LINK]->(b)
WHERE coalesce(a[$key_property], elementId(a)) = $node AND ($label IS NULL OR $label IN labels(a))
RETURN coalesce(b[$key_property], elementId(b)) AS predicted,
       l.rank AS rank,
       l.score AS score,
       l.model AS model,
       b.topo_tc AS predicted_tc,
       a.topo_reliability AS source_reliability,
       l.run_id AS run_id
ORDER BY rank ASC
