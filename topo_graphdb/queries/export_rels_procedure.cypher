// The export through the topo.export.relationships procedure (a selection without node or
// relationship predicates, times or weights): the nodes with one of $labels (every node without one
// of $excluded_labels when $labels is empty) by increasing id, first as records of up to
// $group_size element ids (one string, joined by newlines) with, when $key is not empty, their
// values of that property (null where missing), then their outgoing relationships of $types (any
// type but $excluded when $types is empty) between selected nodes in records of up to
// 16 * $group_size, as int32 little-endian positions in that node order (byte arrays), and their
// count. $mode: auto (the procedure chooses a pass over the store or each node's walk), pass, follow.
CALL topo.export.relationships($labels, $excluded_labels, $types, $excluded, $group_size, $mode, $key)
YIELD ids, keys, sources, targets, count
RETURN ids, keys, sources, targets, count
