"""A deployment on several machines (issue 12, docs/scale-out.md): room leases and fencing
(leases.py, ownership.py), the Redis channels between nodes (channels.py, wire.py), the room-event
bus (bus.py) and the relay of sockets that reach a node which does not own their meeting (links.py)."""
