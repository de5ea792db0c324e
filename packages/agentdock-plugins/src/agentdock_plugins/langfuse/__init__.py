"""Built-in plugin: LangFuse traces with an offline buffer."""
