"""``herald run lag-exporter``: consumer-group lag in messages and seconds, from the broker alone."""
