// Remove what topo-graphdb wrote: every topo_* node property and PREDICTED_LINK relationship of the
// nodes with label $label, and, when $label is null, also the ledger (TopoRun) and lock (TopoLock)
// nodes. One transaction: on very large graphs prefer `topo-graphdb clean --all` (batched, also
// drops the tool's indexes and constraints).
// Parameters: $label (e.g. 'Paper'; null = every node and the ledger).
// Use: topo-graphdb query --write -f cypher/remove_all.cypher --param label=null
OPTIONAL MATCH (a)-[l:PREDICTED_LINK]-()
WHERE $label IS NULL OR $label IN labels(a)
WITH collect(DISTINCT l) AS links
FOREACH (l IN links | DELETE l)
WITH size(links) AS links_deleted
OPTIONAL MATCH (n)
WHERE ($label IS NULL OR $label IN labels(n)) AND NOT n:TopoRun AND NOT n:TopoLock
  AND any(k IN keys(n) WHERE k STARTS WITH 'topo_')
FOREACH (k IN [k IN keys(n) WHERE k STARTS WITH 'topo_'] | REMOVE n[k])
WITH links_deleted, count(n) AS nodes_cleared
OPTIONAL MATCH (r)
WHERE $label IS NULL AND (r:TopoRun OR r:TopoLock)
DETACH DELETE r
RETURN links_deleted, nodes_cleared, count(r) AS ledger_nodes_deleted
