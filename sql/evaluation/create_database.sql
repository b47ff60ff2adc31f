-- A scratch database for an offline evaluation (the name is quoted by the caller).
CREATE DATABASE {database}
