// write_node_properties.cypher as one procedure call, the values sent as columns:
// n += {names[c]: columns[c][i], ..., stamp} on the node of element id ids[i] (with one of $labels, if any).
CALL topo.write.nodeProperties($ids, $names, $columns, $stamp, $labels, $key, $sample_size)
YIELD missing, missing_sample
RETURN missing, missing_sample
