"""``herald run outbox-relay``: carries committed rows of an EMR's transactional outbox to the activity topic."""
