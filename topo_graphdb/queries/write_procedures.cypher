// Which of the named procedures of the plugin jar (topo_graphdb/server/procedures) the server has, with their signatures.
SHOW PROCEDURES YIELD name, signature
WHERE name IN $names
RETURN name, signature
