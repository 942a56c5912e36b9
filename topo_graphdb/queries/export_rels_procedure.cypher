// Relationship pass of an export through the topo.export.relationships procedure (a selection
// without node or relationship predicates, times or weights): the nodes with one of $labels (every
// node without one of $excluded_labels when $labels is empty) by increasing id, first as records of
// up to $group_size element ids (one string, joined by newlines), then their outgoing relationships
// of $types (any type but $excluded when $types is empty) between selected nodes in records of up
// to 16 * $group_size, as int32 little-endian positions in that node order (byte arrays), and their
// count.
CALL topo.export.relationships($labels, $excluded_labels, $types, $excluded, $group_size) YIELD ids, sources, targets, count
RETURN ids, sources, targets, count
