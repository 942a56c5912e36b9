// The most probable predicted links from nodes whose predictions can be trusted (expected
// precision of the source at least $min_expected_precision): a shortlist of links to act on.
// Parameters: $label (e.g. 'Paper'; null = any label), $key_property (e.g. 'id'; null = elementId),
//             $min_expected_precision (0..1, e.g. 0.3), $limit (e.g. 25).
// Use: topo-graphdb query -f cypher/top_predicted_links.cypher --param label=Paper --param key_property=id \
//        --param min_expected_precision=0.3 --param limit=25
MATCH (a)-[l:PREDICTED_LINK]->(b)
WHERE ($label IS NULL OR $label IN labels(a)) AND coalesce(a.topo_expected_precision, 0.0) >= $min_expected_precision
RETURN coalesce(a[$key_property], elementId(a)) AS source,
       coalesce(b[$key_property], elementId(b)) AS target,
       l.probability AS probability,
       l.score AS score,
       l.rank AS rank,
       a.topo_expected_precision AS source_expected_precision,
       a.topo_tc AS source_tc
ORDER BY probability DESC, score DESC, source ASC, target ASC
LIMIT $limit
