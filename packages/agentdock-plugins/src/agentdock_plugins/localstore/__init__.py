"""Built-in plugin: the local run collector (SQLite) behind agentdock metrics."""
