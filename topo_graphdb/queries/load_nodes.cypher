// Create missing nodes by id; existing nodes get the properties in $rows (if any).
// $rows: list of {id, props} maps.
UNWIND $rows AS row
MERGE (n:{{label}} { {{key}}: row.id })
SET n += row.props
