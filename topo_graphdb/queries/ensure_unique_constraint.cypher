// Uniqueness constraint on the id property of a label (also creates the backing index).
CREATE CONSTRAINT IF NOT EXISTS FOR (n:{{label}}) REQUIRE n.{{key}} IS UNIQUE
