// Range index on a property sync writes, for one selected label (lowest-TC queries use it).
CREATE INDEX {{index}} IF NOT EXISTS FOR (n:{{label}}) ON (n.{{prop}})
