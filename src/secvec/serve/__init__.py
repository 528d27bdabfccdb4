"""An OpenAI-compatible chat endpoint that serves a model with the security vectors off or on.

`create_app` builds the FastAPI app; `run_server` serves it with uvicorn. Clients pick the
vectors per request by model name (`<name>` off, `<name>+vectors` on).
"""

from __future__ import annotations

from secvec.serve.app import create_app
from secvec.serve.protocol import APIError


def is_loopback(host: str) -> bool:
    """Does listening on `host` keep the server to this machine?"""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_server(app, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve until interrupted (Ctrl-C stops it cleanly)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="info")


__all__ = ["APIError", "create_app", "is_loopback", "run_server"]
