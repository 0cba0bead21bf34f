"""A readable reference at /api/docs, rendered on the server from the OpenAPI document.

No JavaScript and nothing fetched from elsewhere: it works offline and behind strict firewalls,
and it can never disagree with /api/v1/openapi.json because it is made from it.
"""

from __future__ import annotations

from html import escape
from typing import Any

from flask import Blueprint, Response, current_app

bp = Blueprint("docs", __name__)

METHODS = ("get", "post", "put", "patch", "delete")
STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2530}
header{background:#1d2530;color:#fff;padding:1rem 2rem}header a{color:#9cd}
main{display:grid;grid-template-columns:16rem 1fr;gap:2rem;padding:1rem 2rem}
nav{position:sticky;top:1rem;align-self:start;font-size:14px}nav a{display:block;color:#246;padding:2px 0}
section{border-top:1px solid #ccd;padding-top:.5rem;margin-bottom:1.5rem}
.op{border:1px solid #dde;border-radius:6px;padding:.6rem 1rem;margin:.8rem 0}
.m{font:bold 13px monospace;padding:2px 6px;border-radius:4px;color:#fff;margin-right:.5rem}
.get{background:#2a7}.post{background:#27c}.patch{background:#c80}.put{background:#a5c}.delete{background:#c33}
code{background:#f1f3f6;padding:1px 4px;border-radius:3px}table{border-collapse:collapse;font-size:14px}
td,th{border:1px solid #dde;padding:3px 8px;text-align:left;vertical-align:top}
@media (max-width:700px){main{grid-template-columns:1fr}nav{position:static}}
"""


def _ref_name(schema: dict[str, Any] | None) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    if "anyOf" in schema:  # OpenAPI 3.1 spells a nullable reference as anyOf [ref, null]
        return " or ".join(_ref_name(option) for option in schema["anyOf"])
    kind = schema.get("type", "object")
    kinds = kind if isinstance(kind, list) else [kind]  # 3.1: ["string", "null"]
    if "array" in kinds:
        return f"array of {_ref_name(schema.get('items'))}" + (" or null" if "null" in kinds else "")
    return escape(" or ".join(kinds))


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    scopes = sorted({s for req in op.get("security", []) for scheme in req.values() for s in scheme})
    parts = [f'<div class="op" id="{escape(op.get("operationId", path + method))}">',
             f'<span class="m {method}">{method.upper()}</span><code>{escape(path)}</code>',
             f"<p><b>{escape(op.get('summary', ''))}</b> {escape(op.get('description', ''))}</p>"]
    if op.get("security") is not None:
        csrf = any("csrfToken" in req for req in op["security"])
        parts.append(f"<p>Auth: session{' (with X-CSRF-Token)' if csrf else ''} or bearer token"
                     f"{'; scope ' + ', '.join(map(escape, scopes)) if scopes else ''}</p>")
    params = op.get("parameters", [])
    if params:
        rows = "".join(f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
                       f"<td>{_ref_name(p.get('schema'))}</td><td>{'yes' if p.get('required') else ''}</td>"
                       f"<td>{escape(p.get('description', ''))}</td></tr>" for p in params)
        parts.append(f"<table><tr><th>parameter</th><th>in</th><th>type</th><th>required</th><th></th></tr>"
                     f"{rows}</table>")
    body = op.get("requestBody", {}).get("content", {})
    if body:
        parts.append("<p>Body: " + "; ".join(f"{escape(media)} {_ref_name(c.get('schema'))}"
                                             for media, c in body.items()) + "</p>")
    responses = op.get("responses", {})
    parts.append("<p>Responses: " + ", ".join(
        f"<b>{escape(code)}</b> {escape(r.get('description', ''))} "
        f"{_ref_name(next(iter(r.get('content', {}).values()), {}).get('schema'))}"
        for code, r in sorted(responses.items())) + "</p></div>")
    return "".join(parts)


def _schema(name: str, schema: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(prop)}</code></td><td>{_ref_name(spec)}"
        f"{' (' + escape(spec['format']) + ')' if 'format' in spec else ''}</td>"
        f"<td>{escape(str(spec.get('description', '')))}</td></tr>"
        for prop, spec in schema.get("properties", {}).items())
    return f'<div class="op" id="schema-{escape(name)}"><b>{escape(name)}</b><table>{rows}</table></div>'


def render(spec: dict[str, Any]) -> str:
    by_tag: dict[str, list[str]] = {}
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                tag = (item[method].get("tags") or ["other"])[0]
                by_tag.setdefault(tag, []).append(_operation(path, method, item[method]))
    descriptions = {t["name"]: t.get("description", "") for t in spec.get("tags", [])}
    nav = "".join(f'<a href="#tag-{escape(t)}">{escape(t)}</a>' for t in by_tag) + '<a href="#schemas">schemas</a>'
    sections = "".join(f'<section id="tag-{escape(t)}"><h2>{escape(t)}</h2><p>{escape(descriptions.get(t, ""))}</p>'
                       f"{''.join(ops)}</section>" for t, ops in by_tag.items())
    schemas = "".join(_schema(n, s) for n, s in sorted(spec.get("components", {}).get("schemas", {}).items()))
    info = spec.get("info", {})
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport "
            f"content='width=device-width,initial-scale=1'><title>{escape(info.get('title', 'API'))} API</title>"
            '<link rel="stylesheet" href="/api/docs.css"></head>'
            f"<body><header><h1>{escape(info.get('title', ''))} API "
            f"{escape(info.get('version', ''))}</h1><p>{escape(info.get('description', ''))} Machine-readable: "
            f'<a href="/api/v1/openapi.json">/api/v1/openapi.json</a>. Errors always have the shape '
            f"<code>{{\"error\": {{\"code\", \"message\", \"details\"}}}}</code>.</p></header><main><nav>{nav}</nav>"
            f'<div>{sections}<section id="schemas"><h2>schemas</h2>{schemas}</section></div></main></body></html>')


@bp.get("/api/docs.css")
def api_docs_css():
    # A file of its own: the Content-Security-Policy allows no inline styles.
    return Response(STYLE, mimetype="text/css")


@bp.get("/api/docs")
def api_docs():
    """The API reference for people."""
    spec = current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    return Response(render(spec), mimetype="text/html")
