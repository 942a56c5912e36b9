// The predicted links of one node, best first, with how far to believe each: its calibrated
// probability, the pair's TC and the source's expected precision.
// Parameters: $node (the node's key value, e.g. 42, or its elementId), $key_property (e.g. 'id';
//             null when $node is an elementId), $label (e.g. 'Paper'; null = any label).
// Use: topo-graphdb query -f cypher/predicted_links.cypher --param node=42 --param key_property=id --param label=Paper
MATCH (a)-[l:PREDICTED_LINK]->(b)
WHERE coalesce(a[$key_property], elementId(a)) = $node AND ($label IS NULL OR $label IN labels(a))
RETURN coalesce(b[$key_property], elementId(b)) AS predicted,
       l.rank AS rank,
       l.probability AS probability,
       l.tc AS pair_tc,
       l.score AS score,
       l.model AS model,
       a.topo_expected_precision AS source_expected_precision,
       l.run_id AS run_id
ORDER BY rank ASC
