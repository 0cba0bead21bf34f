"""Task data shown as markdown or HTML, rendered on the server into HTML that is safe to insert.

Markdown goes through markdown-it-py (CommonMark, raw HTML off) and HTML through nh3 (the ammonia
sanitizer): tags and attributes on an allow-list, so no script, style, iframe, object or form, no
event handler attributes, and links only to http, https and mailto, opened without the referrer.
The client inserts ``rendered[field]`` and never the raw field as HTML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import nh3
from markdown_it import MarkdownIt

RENDERED = ("markdown", "html")
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False})
_SCHEMES = {"http", "https", "mailto"}


@lru_cache(maxsize=4096)
def render(text: str, shown_as: str) -> str:
    """Safe HTML for one field's text (``shown_as``: markdown or html). Cached: a task's fields are
    rendered again on every claim and many tasks share texts."""
    html = _MARKDOWN.render(text) if shown_as == "markdown" else text
    return nh3.clean(html, url_schemes=_SCHEMES, link_rel="noopener noreferrer nofollow")


def rendered(display: Sequence[Mapping[str, str]] | None, data: Mapping[str, Any]) -> dict[str, str]:
    """``{field: html}`` for the fields a project shows as markdown or HTML."""
    out = {}
    for entry in display or ():
        value = data.get(entry["field"])
        if entry["as"] in RENDERED and isinstance(value, str):
            out[entry["field"]] = render(value, entry["as"])
    return out
