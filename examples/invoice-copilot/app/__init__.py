"""The invoice copilot: extracts the key fields of an invoice and summarizes them."""
