"""The browser UI: static HTML, CSS and JavaScript modules from ``web/``, which talk to the JSON API.

No server-side rendering and no build step: ``/`` is the single page, ``/web/...`` its files.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, send_from_directory

WEB_DIR = Path(__file__).resolve().parents[2] / "web"

bp = Blueprint("web", __name__)


def _send(filename: str):
    response = send_from_directory(WEB_DIR, filename, max_age=0)
    # Revalidate on every load (ETag / Last-Modified) so that an upgrade is picked up at once.
    response.cache_control.no_cache = True
    return response


@bp.get("/")
def index():
    """The single page of the UI."""
    return _send("index.html")


@bp.get("/web/<path:filename>")
def asset(filename: str):
    """A file of the UI (404 outside ``web/``)."""
    return _send(filename)
