"""Keeps the list of services."""
import os
import signal

from flask import Flask

app = Flask(__name__)
REDIS_URL = os.getenv("SERVICE_REGISTRY_REDIS_URL", "redis://localhost:6379/0")


@app.get("/healthz")
def health():
    return "ok"


def main():
    try:
        app.run(host="127.0.0.1", port=7200)
    except KeyboardInterrupt:
        pass
