// Set node properties from $rows = [[id, v1, v2, ...], ...] in one write transaction.
// A null value removes the property. Placeholders: match_node (the node n of id row[0], with
// its label guard), assignments (n += {p: row[i], ..., run id, timestamp}).
// Nodes that no longer match are counted and a few of their ids returned.
UNWIND $rows AS row
OPTIONAL MATCH {{match_node}}
SET {{assignments}}
WITH row, n
WHERE n IS NULL
RETURN count(row) AS missing, collect(row[0])[..$sample_size] AS missing_sample
