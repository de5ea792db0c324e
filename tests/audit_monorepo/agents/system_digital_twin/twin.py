"""Mirrors the system's state."""
import sqlite3
import socket

DB_PATH = "/home/user/ai_system/data/unified_memory.db"


def connect_registry():
    sock = socket.create_connection(("localhost", 7200))
    return sock


def open_db():
    return sqlite3.connect(DB_PATH)


@app.get("/health")
def health():
    return {"status": "ok"}


while True:
    serve_once()
