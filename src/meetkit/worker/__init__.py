"""Background work driven by rows in the database: webhook delivery (more to come)."""
