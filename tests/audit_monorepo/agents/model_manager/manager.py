"""Loads and unloads models."""
import os
import signal

MODEL_DIR = os.getenv("MODEL_DIR", "/app/models")
IMAGE_CACHE = "/Users/dev/cache/images"
signal.signal(signal.SIGTERM, lambda *_: None)


@app.get("/health")
def health():
    return "ok"


def save_index(index):
    with open("/var/lib/models/index.json", "w") as out:
        out.write(index)
