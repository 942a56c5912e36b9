// Number of relationships of one type between nodes of one label.
MATCH (:{{label}})-[r:{{rel_type}}]->(:{{label}})
RETURN count(r) AS n
