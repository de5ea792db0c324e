"""A queue worker that stops cleanly."""
import os
import signal
import threading

import httpx

QUEUE_URL = os.getenv("QUEUE_URL", "amqp://queue:5672/")
DATA_DIR = os.getenv("DATA_DIR", "/app/data")
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())


async def handle(job):
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(os.environ["RESULT_URL"], json=job)


def run():
    while True:
        if stop.wait(1):
            break
