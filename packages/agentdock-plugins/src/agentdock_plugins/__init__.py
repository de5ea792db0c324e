"""AgentDock built-in plugins."""
