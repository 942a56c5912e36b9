// Labels, relationship types and property keys the database knows (to name them in errors).
// Each list is collected in its own subquery, so an empty one (e.g. no relationship types yet)
// still gives one row.
CALL () { CALL db.labels() YIELD label RETURN collect(label) AS labels }
CALL () { CALL db.relationshipTypes() YIELD relationshipType RETURN collect(relationshipType) AS types }
CALL () { CALL db.propertyKeys() YIELD propertyKey RETURN collect(propertyKey) AS keys }
RETURN labels, types, keys
