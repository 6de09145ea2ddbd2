"""Storage: engine, tables, repositories, migrations, object store."""
