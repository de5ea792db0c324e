"""Built-in plugin: OpenTelemetry GenAI spans exported over OTLP/HTTP."""
