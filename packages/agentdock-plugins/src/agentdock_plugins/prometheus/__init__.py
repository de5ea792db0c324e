"""Built-in plugin: Prometheus metrics served at /metrics."""
