// Schema for what `topo-graphdb sync` writes: constraints and indexes of the run ledger and of
// the predicted links. Run it once with cypher-shell (several statements):
//   cypher-shell -a "$NEO4J_URI" -u neo4j -f cypher/schema.cypher
// `sync` creates the same objects itself, plus, for every label it analyses, range indexes on the
// node properties it writes (topo_tc, topo_atc, topo_expected_precision). For a label sync has not seen,
// the statement is:  CREATE INDEX IF NOT EXISTS FOR (n:YourLabel) ON (n.topo_tc)
// Names start with topo_ so that `topo-graphdb clean --all` can drop them. No parameters.

// One ledger node per run id; one lock node per selection (a race-free MERGE needs the constraint).
CREATE CONSTRAINT topo_run_id IF NOT EXISTS FOR (r:TopoRun) REQUIRE r.run_id IS UNIQUE;
CREATE CONSTRAINT topo_lock_scope IF NOT EXISTS FOR (l:TopoLock) REQUIRE l.scope IS UNIQUE;
// Runs of one selection, newest first (planning incremental runs, `topo-graphdb runs`, retention).
CREATE INDEX topo_run_scope IF NOT EXISTS FOR (r:TopoRun) ON (r.scope, r.started_at);
CREATE INDEX topo_run_status IF NOT EXISTS FOR (r:TopoRun) ON (r.status);
// Predicted links by run (retention deletes the links of old runs) and by score.
CREATE INDEX topo_PREDICTED_LINK_run_id IF NOT EXISTS FOR ()-[l:PREDICTED_LINK]-() ON (l.run_id);
CREATE INDEX topo_PREDICTED_LINK_score IF NOT EXISTS FOR ()-[l:PREDICTED_LINK]-() ON (l.score);
// ... and by calibrated probability (cypher/trusted_links.cypher).
CREATE INDEX topo_PREDICTED_LINK_probability IF NOT EXISTS FOR ()-[l:PREDICTED_LINK]-() ON (l.probability);
