"""Named state changes (``do_*``): each one runs in one transaction."""
