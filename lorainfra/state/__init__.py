"""State: the record of what a config manages, and the backends that store it."""
