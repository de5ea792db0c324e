"""The agent's two tools; ``policies.tools.allowed`` in the Dockfile names exactly these."""

from __future__ import annotations

from langchain_core.tools import tool

__all__ = ["TOOLS", "issue_refund", "lookup_order"]

#: A tiny in-memory order book standing in for a real backend.
ORDERS: dict[str, dict[str, object]] = {
    "A-1001": {"order_id": "A-1001", "item": "desk lamp", "amount": 39.5, "status": "delivered"},
    "A-1002": {"order_id": "A-1002", "item": "keyboard", "amount": 89.0, "status": "shipped"},
}


@tool
def lookup_order(order_id: str) -> dict[str, object]:
    """Look an order up by its id: item, amount and delivery status."""
    return ORDERS.get(order_id, {"order_id": order_id, "status": "unknown"})


@tool
def issue_refund(order_id: str, amount: float) -> str:
    """Refund ``amount`` on an order; returns the refund's reference."""
    return f"refund R-{order_id} of {amount:.2f} issued"


TOOLS = [lookup_order, issue_refund]
