-- One schema per service (NASTAVNIK_DATABASE_URL ...?schema=<service>): a service's event store
-- and read models never meet another's. The services create their tables themselves, under an
-- advisory lock (shared/store.py schema_setup_lock), but not the schemas: those come first.
-- compose: run once by the postgres image on an empty volume; CloudNativePG: the same statements
-- are in postgres-cluster.yaml (bootstrap.initdb.postInitApplicationSQL).
CREATE SCHEMA IF NOT EXISTS registry AUTHORIZATION nastavnik;
CREATE SCHEMA IF NOT EXISTS pairing AUTHORIZATION nastavnik;
CREATE SCHEMA IF NOT EXISTS monitoring AUTHORIZATION nastavnik;
CREATE SCHEMA IF NOT EXISTS documents AUTHORIZATION nastavnik;
