// The connection check: answered by every database, the system database included.
CALL db.ping()
