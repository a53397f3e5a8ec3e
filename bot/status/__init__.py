"""The public status page, its feeds and the Statuspage-compatible API."""
