// Nodes whose predicted links are least likely to be right: lowest expected precision first,
// with degree and TC beside it (expected precision = mean calibrated probability of the node's
// top-k predicted links, i.e. its expected Precision@k).
// Parameters: $label (e.g. 'Paper'; null = any label), $key_property (e.g. 'id'; null = elementId),
//             $limit (e.g. 20).
// Use: topo-graphdb query -f cypher/unreliable_nodes.cypher --param label=Paper --param key_property=id --param limit=20
MATCH (n)
WHERE n.topo_expected_precision IS NOT NULL AND ($label IS NULL OR $label IN labels(n))
RETURN coalesce(n[$key_property], elementId(n)) AS node,
       n.topo_expected_precision AS expected_precision,
       n.topo_degree AS degree,
       n.topo_tc AS tc,
       n.topo_atc AS atc
ORDER BY expected_precision ASC, degree DESC, node ASC
LIMIT $limit
