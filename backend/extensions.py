"""Flask extensions, created unbound and wired in create_app."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# Only the routes that ask for a limit are limited (login for now).
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
