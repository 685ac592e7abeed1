"""The lifecycle processor: keeps the time-partitioned tables' months ahead and applies retention."""
