// Create relationships unless an identical one exists (loading twice adds nothing).
// $rows: list of [src, dst] or [src, dst, time]; the time, if any, identifies the relationship.
UNWIND $rows AS row
MATCH (a:{{label}} { {{key}}: row[0] })
MATCH (b:{{label}} { {{key}}: row[1] })
MERGE (a)-[:{{rel_type}} {{rel_props}}]->(b)
