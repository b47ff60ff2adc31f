-- Read texts and interactions; write the vector and its hash, and no other column.
GRANT SELECT ON {table}, {interactions} TO {role};
GRANT UPDATE ({embedding}, {embedding_hash}) ON {table} TO {role};
