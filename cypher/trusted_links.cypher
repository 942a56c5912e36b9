// Predicted links likely to be real: calibrated probability at least $min_probability, best first.
// The probability is the chance that the pair is one of the graph's missing links, as measured on
// links the run held out (the held-out share is the run's trust_holdout in the ledger).
// Parameters: $label (e.g. 'Paper'; null = any label), $key_property (e.g. 'id'; null = elementId),
//             $min_probability (0..1, e.g. 0.5), $limit (e.g. 25).
// Use: topo-graphdb query -f cypher/trusted_links.cypher --param label=Paper --param key_property=id \
//        --param min_probability=0.5 --param limit=25
MATCH (a)-[l:PREDICTED_LINK]->(b)
WHERE l.probability >= $min_probability AND ($label IS NULL OR $label IN labels(a))
RETURN coalesce(a[$key_property], elementId(a)) AS source,
       coalesce(b[$key_property], elementId(b)) AS target,
       l.probability AS probability,
       l.tc AS pair_tc,
       l.rank AS rank,
       l.score AS score,
       a.topo_expected_precision AS source_expected_precision
ORDER BY probability DESC, source ASC, target ASC
LIMIT $limit
