// The server's own version and edition (not the driver's): the kernel component.
CALL dbms.components() YIELD name, versions, edition
WHERE name = $component
RETURN versions[0] AS version, edition
