"""Built-in plugin: the policy engine (redaction, PII, prompt injection, tool gating, output limits)."""
