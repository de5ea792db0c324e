"""A tool-calling ReAct agent: looks up an order, then refunds it."""
