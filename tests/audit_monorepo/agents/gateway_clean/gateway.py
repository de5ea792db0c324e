"""An HTTP gateway with a health route and gated admin routes."""
import os

from fastapi import Depends, FastAPI

app = FastAPI(debug=os.getenv("DEBUG") == "1")


@app.get("/health")
def health():
    return {"ok": True}


@app.get("/admin/stats", dependencies=[Depends(require_admin)])
def stats():
    return {}
