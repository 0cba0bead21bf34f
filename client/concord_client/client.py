"""``Client``: one object per base URL and credential, with a namespace per resource."""

from __future__ import annotations

import copy
from types import TracebackType

import httpx

from ._http import HttpCore
from ._payments import Payments, Payouts, Reviews
from ._projects import Batches, Datasets, Projects, Tasks
from ._results import Consensus, Exports, Jobs, Results
from ._work import Assignments, Workers
from .types import Me
from .webhooks import Webhooks


class Client:
    """A Concord API client.

    >>> client = Client("https://concord.example.com", "cnc_...")
    >>> project = client.projects.create("Sentiment", "single_choice", labels=["pos", "neg"], status="active")

    ``base_url`` is the server's address (``/api/v1`` is added unless present). ``token``
    is a personal token or an organization key. An organization key acting for one of
    its vendor's workers passes ``worker="<the vendor's id>"`` here (sent with every
    request as ``X-Concord-Worker``), or per call, or uses ``client.acting_as(...)``.

    Failed requests raise ``ConcordError`` subclasses. 429 and 5xx answers and broken
    connections are retried up to ``max_retries`` times, honouring ``Retry-After``,
    else waiting ``backoff_base * 2**n`` seconds (with jitter, at most ``backoff_max``).
    """

    def __init__(self, base_url: str, token: str, *, worker: str | None = None, timeout: float = 30,
                 max_retries: int = 5, backoff_base: float = 0.25, backoff_max: float = 30.0,
                 max_retry_after: float = 120.0, http_client: httpx.Client | None = None,
                 transport: httpx.BaseTransport | None = None):
        http = HttpCore(base_url, token, worker=worker, timeout=timeout, max_retries=max_retries,
                        backoff_base=backoff_base, backoff_max=backoff_max, max_retry_after=max_retry_after,
                        http_client=http_client, transport=transport)
        self._bind(http)

    def _bind(self, http: HttpCore) -> None:
        self._http = http
        self.projects = Projects(http, self)
        self.datasets = Datasets(http, self)
        self.batches = Batches(http, self)
        self.tasks = Tasks(http, self)
        self.assignments = Assignments(http, self)
        self.workers = Workers(http, self)
        self.jobs = Jobs(http, self)
        self.consensus = Consensus(http, self)
        self.results = Results(http, self)
        self.exports = Exports(http, self)
        self.reviews = Reviews(http, self)
        self.payments = Payments(http, self)
        self.payouts = Payouts(http, self)
        self.webhooks = Webhooks(http, self)

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def worker(self) -> str | None:
        """The vendor worker this client acts for, if any."""
        return self._http.worker

    def acting_as(self, worker: str) -> Client:
        """A client for the same key that acts for ``worker`` (the vendor's own id). Shares the connections;
        closing it leaves this client open."""
        http = copy.copy(self._http)
        http.worker = worker
        http._owns_client = False
        other = object.__new__(Client)
        other._bind(http)
        return other

    def me(self) -> Me:
        """Who the credential is: role, organization, worker id, scopes."""
        return self._http.json("GET", "/me")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        acting = f", worker={self.worker!r}" if self.worker else ""
        return f"Client({self.base_url!r}{acting})"
