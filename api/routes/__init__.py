"""One router per resource (STYLE 19)."""
