-- Drop an evaluation's scratch database, ending any session still connected to it.
DROP DATABASE IF EXISTS {database} WITH (FORCE)
