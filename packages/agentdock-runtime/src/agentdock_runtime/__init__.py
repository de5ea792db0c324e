"""AgentDock runtime."""
