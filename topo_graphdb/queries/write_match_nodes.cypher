// Dry run of a write: how many of $ids no longer match a node (read only).
UNWIND $ids AS id
OPTIONAL MATCH {{match_node}}
WITH id, n
WHERE n IS NULL
RETURN count(id) AS missing, collect(id)[..$sample_size] AS missing_sample
