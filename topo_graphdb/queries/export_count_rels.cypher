// Relationship count of one type (or all), answered from the counts store.
MATCH ()-[r{{rel_types}}]->()
RETURN count(r) AS n
