"""The web page: GET / and its static files under /ui/, served by the HTTP function itself.

No build step and nothing loaded from elsewhere: the files in ``functions/ui/`` are read once per
instance and served with a Content-Security-Policy that allows only this origin (no inline script
or style), so a document's text can never run as code in the page. The page itself is public;
what it calls (POST /jobs, ...) checks API_TOKEN, and ``/ui/config.json`` tells the page whether
to ask for one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import flask

from common.config import Settings

UI_DIR = Path(__file__).resolve().parent / "ui"

# blob: images are page images fetched with the token header (an <img src> cannot send one).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


def _load() -> dict[str, tuple[bytes, str, str]]:
    """Route -> (body, content type, etag) for every file in ui/ (index.html is also /)."""
    files = {}
    for path in sorted(UI_DIR.iterdir()):
        if path.suffix in _TYPES:
            body = path.read_bytes()
            files[f"/ui/{path.name}"] = (body, _TYPES[path.suffix], hashlib.sha256(body).hexdigest()[:20])
    files["/"] = files["/ui/index.html"]
    return files


_FILES = _load()


def static_file(request: flask.Request, settings: Settings):
    body, content_type, etag = _FILES[request.path.rstrip("/") or "/"]
    response = flask.Response(body, content_type=content_type, headers=security_headers())
    # Revalidate every time: a deploy changes the files under the same names.
    response.headers["Cache-Control"] = "no-cache"
    response.set_etag(etag)
    return response.make_conditional(request)


def config(request: flask.Request, settings: Settings):
    """What the page needs to know before it sends anything; never the token itself."""
    response = flask.jsonify(token_required=bool(settings.api_token), max_upload_bytes=settings.max_upload_bytes,
                             max_pages=settings.max_pages)
    response.headers.update(security_headers())
    response.headers["Cache-Control"] = "no-store"
    return response


def security_headers() -> dict[str, str]:
    return {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


ROUTES = {route: (static_file, ("GET", "HEAD")) for route in _FILES}
ROUTES["/ui/config.json"] = (config, ("GET",))
