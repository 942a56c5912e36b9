// The topo.write procedures the server has (the plugin jar of topo_graphdb/server/procedures), with their signatures.
SHOW PROCEDURES YIELD name, signature
WHERE name IN $names
RETURN name, signature
