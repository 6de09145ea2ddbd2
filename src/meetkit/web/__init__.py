"""Meeting pages served at the guest and host URLs."""
