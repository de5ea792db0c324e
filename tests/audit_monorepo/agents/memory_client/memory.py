"""Reads and writes long-term memory."""
import redis

AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
cache = redis.Redis.from_url("redis://admin:s3cr3t-pass@redis:6379/0")
store = redis.Redis(host="memory-store", port=6380)


@app.get("/health")
def health():
    return "ok"


@app.get("/admin/flush")
def flush():
    cache.flushall()
