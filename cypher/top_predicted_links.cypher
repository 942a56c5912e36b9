// The most confident predicted links between nodes whose predictions can be trusted (reliability
// indicator of the source at least $min_reliability): a shortlist of links to act on.
// Parameters: $label (e.g. 'Paper'; null = any label), $key_property (e.g. 'id'; null = elementId),
//             $min_reliability (0..1, e.g. 0.5), $limit (e.g. 25).
// Use: topo-graphdb query -f cypher/top_predicted_links.cypher --param label=Paper --param key_property=id \
//        --param min_reliability=0.5 --param limit=25
MATCH (a)-[l:PREDICTED_LINK]->(b)
WHERE ($label IS NULL OR $label IN labels(a)) AND coalesce(a.topo_reliability, 0.0) >= $min_reliability
RETURN coalesce(a[$key_property], elementId(a)) AS source,
       coalesce(b[$key_property], elementId(b)) AS target,
       l.score AS score,
       l.rank AS rank,
       a.topo_reliability AS source_reliability,
       a.topo_tc AS source_tc
ORDER BY score DESC, source ASC, target ASC
LIMIT $limit
