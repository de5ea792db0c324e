"""The copilot's tools; ``policies.tools.allowed`` in the Dockfile names exactly these."""

from __future__ import annotations

import re

from langchain_core.tools import tool

from app.schemas import InvoiceFields

__all__ = ["TOOLS", "extract_invoice", "summarize_invoice"]

_NUMBER = re.compile(r"invoice\s*(?:no\.?|number|#)\s*[:#]?\s*([A-Za-z0-9][\w/-]*)", re.I)
_VENDOR = re.compile(r"^\s*(?:from|vendor|seller|issued by)\s*:\s*(.+?)\s*$", re.I | re.M)
_DATE = re.compile(r"\bdate\s*:\s*(\d{4}-\d{2}-\d{2})", re.I)
_TOTAL = re.compile(
    r"\btotal(?:\s+due)?\s*:\s*(?P<cur>[A-Z]{3}|[$€£])?\s*(?P<amount>\d[\d,]*(?:\.\d+)?)"
    r"\s*(?P<cur_after>[A-Z]{3})?",
    re.I,
)
_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP"}


@tool
def extract_invoice(document: str) -> dict[str, object]:
    """Read the invoice number, vendor, date, currency and total off an invoice's text."""
    fields = InvoiceFields()
    if match := _NUMBER.search(document):
        fields.invoice_number = match.group(1)
    if match := _VENDOR.search(document):
        fields.vendor = match.group(1)
    else:
        first = next((line.strip() for line in document.splitlines() if line.strip()), "")
        fields.vendor = first if first and not _NUMBER.search(first) else None
    if match := _DATE.search(document):
        fields.invoice_date = match.group(1)
    if match := _TOTAL.search(document):
        fields.total = float(match.group("amount").replace(",", ""))
        currency = match.group("cur") or match.group("cur_after")
        if currency:
            fields.currency = _SYMBOLS.get(currency, currency.upper())
    return fields.model_dump()


@tool
def summarize_invoice(
    invoice_number: str | None = None,
    vendor: str | None = None,
    invoice_date: str | None = None,
    currency: str | None = None,
    total: float | None = None,
) -> str:
    """Write a one-line summary of extracted invoice fields."""
    what = f"Invoice {invoice_number}" if invoice_number else "An invoice"
    parts = [what, f"from {vendor}" if vendor else "from an unknown vendor"]
    if invoice_date:
        parts.append(f"dated {invoice_date}")
    if total is not None:
        parts.append(f"totals {total:,.2f}" + (f" {currency}" if currency else ""))
    else:
        parts.append("has no total that could be read")
    return " ".join(parts) + "."


TOOLS = [extract_invoice, summarize_invoice]
