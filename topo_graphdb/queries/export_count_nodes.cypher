// Node count of one label (or all nodes), answered from the counts store.
MATCH (n{{labels}})
RETURN count(n) AS n
