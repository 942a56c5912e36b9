// write_predicted_links.cypher as one procedure call, the links sent as columns: source s has
// counts[s] consecutive entries of $targets/$scores/$more (best first).
CALL topo.write.predictedLinks($sources, $counts, $targets, $scores, $more, $rel_type, $replace, $common,
                               $labels, $key, $node_names, $stamp, $sample_size)
YIELD matched, deleted, written, missing_targets, missing, missing_sample
RETURN matched, deleted, written, missing_targets, missing, missing_sample
