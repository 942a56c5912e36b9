// Nodes with the lowest Topological Concentration: where link prediction will be least reliable
// (their neighbours' neighbourhoods barely overlap with theirs; the paper's "cold" nodes).
// Nodes with an undefined TC (degree <= 1) are not listed: see topo_degree for those.
// Parameters: $label (e.g. 'Paper'; null = any label), $key_property (e.g. 'id'; null = elementId),
//             $limit (e.g. 20).
// Use: topo-graphdb query -f cypher/lowest_tc.cypher --param label=Paper --param key_property=id --param limit=20
MATCH (n)
WHERE n.topo_tc IS NOT NULL AND ($label IS NULL OR $label IN labels(n))
RETURN coalesce(n[$key_property], elementId(n)) AS node,
       n.topo_tc AS tc,
       n.topo_atc AS atc,
       n.topo_degree AS degree,
       n.topo_expected_precision AS expected_precision,
       n.topo_tc_hops AS hops
ORDER BY tc ASC, degree DESC, node ASC
LIMIT $limit
