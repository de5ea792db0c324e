"""Collects metrics from every agent."""
import os
import signal

import uvicorn

BIND = os.getenv("BIND_ADDRESS", "0.0.0.0")
PORT = int(os.getenv("OBSERVABILITY_PORT", "9000"))
DEBUG = True


@app.get("/health")
def health():
    return "ok"


@app.get("/metrics")
def metrics():
    return render()


def main():
    signal.signal(signal.SIGTERM, stop)
    uvicorn.run(app, host=BIND, port=PORT)
