-- get_feed ranks the content table and leaves out what the user interacted with.
GRANT SELECT ON {table}, {interactions} TO {role};
