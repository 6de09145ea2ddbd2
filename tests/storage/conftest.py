"""The storage tier: migrations, the object stores (local and a real S3 server) and metering, on
SQLite and PostgreSQL."""
