"""Request and response bodies (the Dockfile's io_schema.input_class/output_class)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["InvoiceFields", "InvoiceInput", "InvoiceOutput"]


class InvoiceInput(BaseModel):
    """An invoice as plain text, e.g. the output of OCR."""

    model_config = ConfigDict(extra="forbid")

    document: str = Field(min_length=1, max_length=50_000, description="The invoice text.")


class InvoiceFields(BaseModel):
    """The fields read off an invoice; any of them may be missing."""

    invoice_number: str | None = Field(default=None, description="The invoice's number.")
    vendor: str | None = Field(default=None, description="Who issued the invoice.")
    invoice_date: str | None = Field(default=None, description="Issue date, YYYY-MM-DD.")
    currency: str | None = Field(default=None, description="ISO 4217 code, e.g. EUR.")
    total: float | None = Field(default=None, description="Amount due.")


class InvoiceOutput(InvoiceFields):
    """The extracted fields and a one-paragraph summary."""

    summary: str = Field(description="A short summary of the invoice.")
