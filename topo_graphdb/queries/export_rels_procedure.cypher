// Relationship pass of an export through the topo.export.relationships procedure (a selection
// without relationship predicates, times or weights): for each group of $group_size nodes of $ids
// (the node pass's element ids, in its order), their outgoing relationships of $types (any type
// but $excluded when $types is empty) that end at a node of $ids, as int32 little-endian
// positions in $ids (byte arrays), and their count.
CALL topo.export.relationships($ids, $types, $excluded, $group_size) YIELD sources, targets, count
RETURN sources, targets, count
