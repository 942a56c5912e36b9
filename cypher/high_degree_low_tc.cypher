// Hubs with low TC: many relationships, yet their neighbours' neighbourhoods hardly overlap, so
// degree overstates how well link prediction serves them (TC predicts per-node quality better than
// degree does). Good candidates for a manual review of predicted links.
// Parameters: $label (e.g. 'Paper'; null = any label), $key_property (e.g. 'id'; null = elementId),
//             $min_degree (e.g. 10), $max_tc (e.g. 0.05), $limit (e.g. 20).
// Use: topo-graphdb query -f cypher/high_degree_low_tc.cypher --param label=Paper --param key_property=id \
//        --param min_degree=10 --param max_tc=0.05 --param limit=20
MATCH (n)
WHERE n.topo_degree >= $min_degree AND n.topo_tc <= $max_tc
  AND ($label IS NULL OR $label IN labels(n))
RETURN coalesce(n[$key_property], elementId(n)) AS node,
       n.topo_degree AS degree,
       n.topo_tc AS tc,
       n.topo_expected_precision AS expected_precision
ORDER BY degree DESC, tc ASC, node ASC
LIMIT $limit
