"""Built-in plugin: structured event logs, one JSON line per event."""
