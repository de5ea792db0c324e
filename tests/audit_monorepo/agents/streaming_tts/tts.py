"""Speaks."""
import time

import requests

CACHE_DIR = "~/audio_cache"
TTS_HOST = "0.0.0.0"


@app.post("/speak")
async def speak(state):
    time.sleep(0.1)
    audio = requests.post("http://tts-engine.internal:5002/api/tts", json=state)
    return {"audio": audio.content}
