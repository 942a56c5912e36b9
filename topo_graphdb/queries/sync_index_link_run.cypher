// Index on the run id of predicted links (retention deletes links of old runs by it).
CREATE INDEX {{index}} IF NOT EXISTS FOR ()-[l:{{rel_type}}]-() ON (l.run_id)
