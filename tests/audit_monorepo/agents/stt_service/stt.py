"""Transcribes."""
import os

PC2_IP = os.getenv("PC2_IP", "127.0.0.1")


@app.get("/health")
def health():
    return "ok"
