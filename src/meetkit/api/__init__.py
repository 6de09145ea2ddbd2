"""REST transport: routes parse, authorize and call an action; no business rules live here."""
