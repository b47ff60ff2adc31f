-- One index per embedding column, shared by every feed that embeds into it; cosine
-- operator class, because feed queries order by the <=> operator.
CREATE INDEX IF NOT EXISTS {index} ON {table} USING hnsw ({column} vector_cosine_ops);
