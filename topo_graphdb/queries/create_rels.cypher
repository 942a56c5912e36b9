// Create relationships between existing nodes (used only when none of this type exist yet,
// with rows already de-duplicated). $rows: list of [src, dst] or [src, dst, time].
UNWIND $rows AS row
MATCH (a:{{label}} { {{key}}: row[0] })
MATCH (b:{{label}} { {{key}}: row[1] })
CREATE (a)-[:{{rel_type}} {{rel_props}}]->(b)
