"""The echo reference agent."""
