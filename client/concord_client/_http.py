"""The HTTP core: bearer auth, retries with backoff, idempotency keys, errors and cursor pagination."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from typing import Any

import httpx

from .errors import TransportError, error_from_response, parse_retry_after

API_PREFIX = "/api/v1"
WORKER_HEADER = "X-Concord-Worker"
IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "concord-client/0.1.0"
# Transport failures worth another attempt: the connection failed, broke or timed out.
# (UnsupportedProtocol, LocalProtocolError and the like would fail the same way again.)
RETRYABLE_TRANSPORT = (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError)


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def without_none(**values: Any) -> dict[str, Any]:
    """A JSON body of the arguments that were given: the API applies its defaults to the others."""
    return {k: v for k, v in values.items() if v is not None}


def clean_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Query parameters as the API reads them: None dropped, booleans as true/false, dates ISO."""
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, datetime | date):
            out[key] = value.isoformat()
        else:
            out[key] = str(value)
    return out


class HttpCore:
    """One connection pool and the rules every request follows.

    Retries: 429 and 5xx answers and broken connections are retried up to
    ``max_retries`` times, waiting what ``Retry-After`` says when the server says
    so (up to ``max_retry_after`` seconds; longer advice is handed to the caller as
    the error), else an exponential backoff with jitter. A POST carries one
    ``Idempotency-Key`` for all its attempts, so a retried request that did reach
    the server is recognised rather than done twice.
    """

    def __init__(self, base_url: str, token: str, *, worker: str | None, timeout: float, max_retries: int,
                 backoff_base: float, backoff_max: float, max_retry_after: float,
                 http_client: httpx.Client | None = None, transport: httpx.BaseTransport | None = None):
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        root = base_url.rstrip("/")
        if root.endswith(API_PREFIX):
            root = root[: -len(API_PREFIX)]
        self.base_url = root
        self.worker = worker
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self._owns_client = http_client is None
        self.http = http_client or httpx.Client(timeout=timeout, transport=transport)
        self._auth = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT, "Accept": "application/json"}
        self.sleep: Callable[[float], None] = time.sleep

    def close(self) -> None:
        if self._owns_client:
            self.http.close()

    def url(self, path: str) -> str:
        return f"{self.base_url}{API_PREFIX}{path}"

    def backoff(self, attempt: int) -> float:
        """Delay before retry number ``attempt + 1``: exponential, capped, with jitter (half to full)."""
        ceiling = min(self.backoff_max, self.backoff_base * 2**attempt)
        return ceiling * random.uniform(0.5, 1.0)

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                body: Callable[[], dict[str, Any]] | None = None, worker: str | None = None,
                idempotency_key: str | None = None, headers: Mapping[str, str] | None = None,
                stream: bool = False, retries: bool = True) -> httpx.Response:
        """Send a request, retrying as the class says. Returns a 2xx response; raises ConcordError otherwise.

        ``body`` builds the request's content for each attempt (a multipart upload
        re-opens or rewinds its file). With ``stream`` the caller closes the response.
        """
        sent_headers = dict(self._auth)
        acting = worker if worker is not None else self.worker
        if acting is not None:
            sent_headers[WORKER_HEADER] = acting
        if method.upper() == "POST":
            sent_headers[IDEMPOTENCY_HEADER] = idempotency_key or new_idempotency_key()
        elif idempotency_key is not None:
            sent_headers[IDEMPOTENCY_HEADER] = idempotency_key
        sent_headers.update(headers or {})
        attempts = 1 + (self.max_retries if retries else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            content = body() if body is not None else ({"json": json} if json is not None else {})
            request = self.http.build_request(method, self.url(path), params=clean_params(params),
                                              headers=sent_headers, **content)
            try:
                response = self.http.send(request, stream=stream)
            except RETRYABLE_TRANSPORT as exc:
                if last:
                    raise TransportError(None, "connection_error",
                                         f"{method} {path}: {type(exc).__name__}: {exc}") from exc
                self.sleep(self.backoff(attempt))
                continue
            except httpx.HTTPError as exc:
                raise TransportError(None, "connection_error",
                                     f"{method} {path}: {type(exc).__name__}: {exc}") from exc
            status = response.status_code
            if status < 400:
                return response
            if stream:
                response.read()
                response.close()
            if not last and (status == 429 or status >= 500):
                advised = parse_retry_after(response.headers.get("Retry-After"))
                if advised is None or advised <= self.max_retry_after:
                    self.sleep(advised if advised is not None else self.backoff(attempt))
                    continue
            raise error_from_response(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def pages(self, path: str, params: Mapping[str, Any] | None = None, *, page_size: int = 100,
              cursor: str | None = None) -> Iterator[dict[str, Any]]:
        """Every page of a list endpoint, following ``next_cursor`` until it is null."""
        while True:
            page = self.json("GET", path, params={**(params or {}), "limit": page_size, "cursor": cursor})
            yield page
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def iterate(self, path: str, params: Mapping[str, Any] | None = None, *, page_size: int = 100,
                items_key: str = "items") -> Iterator[Any]:
        """Every item of a list endpoint, one page request at a time."""
        for page in self.pages(path, params, page_size=page_size):
            yield from page[items_key]
