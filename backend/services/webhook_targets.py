"""Where webhooks may connect: the SSRF guard and the HTTP transport that enforces it.

An address is parsed with httpx's own parser (what the client would send is
what was checked), its name is resolved once, every address it resolves to is
checked, and the connection goes to the checked address, with the Host header
and the TLS name (SNI and certificate check) still the name in the URL. A name
that is re-pointed between the check and the connection (DNS rebinding) gains
nothing: there is no second lookup.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time

import httpcore
import httpx

from ..errors import ValidationError

_allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

# NAT64 well-known prefix: the last 32 bits are an IPv4 address the gateway connects to (RFC 6052).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Local-use NAT64 (RFC 8215): where the IPv4 address sits depends on the operator; refused outright.
_REFUSED_V6 = (ipaddress.ip_network("64:ff9b:1::/48"),)


def configure(*, allowed_networks: str | None) -> None:
    """Networks the operator allows as targets despite being private (comma-separated CIDRs)."""
    global _allowed_networks
    _allowed_networks = tuple(ipaddress.ip_network(n.strip(), strict=False)
                              for n in (allowed_networks or "").split(",") if n.strip())


def _bad(message: str) -> ValidationError:
    return ValidationError(f"url: {message}", code="invalid_webhook_url", details={"fields": {"url": [message]}})


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address leads to: NAT64, 6to4, Teredo and IPv4-compatible forms."""
    found = []
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if int(ip) >> 32 == 0 and int(ip) > 1:  # ::a.b.c.d (deprecated IPv4-compatible)
        found.append(ipaddress.IPv4Address(int(ip)))
    return found


def is_blocked(address: str) -> bool:
    """Whether webhooks must not connect to this IP address (private, loopback, link-local, ...)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_blocked(str(ip.ipv4_mapped))
        if any(ip in net for net in _allowed_networks):
            return False
        if any(ip in net for net in _REFUSED_V6) or any(is_blocked(str(v4)) for v4 in _embedded_ipv4(ip)):
            return True
    elif any(ip in net for net in _allowed_networks):
        return False
    return not ip.is_global or ip.is_multicast


def parse_target(url: str) -> httpx.URL:
    """The URL as the HTTP client parses it, if it is an http(s) address without credentials.

    Refuses what httpx refuses (control characters, bad ports, ...) and any whitespace. Raises ValidationError.
    """
    if any(ord(c) <= 0x20 or 0x7F <= ord(c) <= 0x9F for c in url):
        raise _bad("no spaces or control characters")
    try:
        parsed = httpx.URL(url)
        port = parsed.port
    except Exception as exc:  # whatever the client's parser refuses is not an address
        raise _bad(f"not a valid address ({exc})") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise _bad("an http or https address")
    if parsed.userinfo:
        raise _bad("no credentials in the address; use the signing secret")
    if port is not None and not 0 < port < 65536:
        raise _bad("a port between 1 and 65535")
    return parsed


def resolve_checked(url: httpx.URL) -> str:
    """Resolve the URL's host once and return an address to connect to, all of them being allowed.

    Raises ValidationError when the name does not resolve or any address is private, loopback or link-local.
    """
    host = url.raw_host.decode("ascii")  # IDNA-encoded, IPv6 without brackets
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError) as exc:
        raise _bad(f"cannot resolve {host}") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    blocked = sorted(a for a in addresses if is_blocked(a))
    if blocked or not addresses:
        raise _bad(f"{host} resolves to a private, loopback or link-local address ({blocked[0] if blocked else '-'})")
    return addresses[0]


def check_target(url: str) -> str:
    """The URL if it is an http(s) address that resolves only to public addresses (or allowed networks).

    Refuses loopback, private, link-local (cloud metadata), multicast and reserved addresses, IPv6 forms
    that lead to them (NAT64, 6to4, Teredo, IPv4-mapped or -compatible), whatever name points at them.
    Raises ValidationError.
    """
    resolve_checked(parse_target(url))
    return url


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write must end before one deadline for the whole attempt."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self._stream, self._deadline = stream, deadline

    def _timeout(self, timeout: float | None) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("the attempt ran out of time")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._timeout(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._timeout(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, self._timeout(timeout)),
                               self._deadline)

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """TCP connections that live at most ``seconds``: an endpoint answering a byte at a time cannot
    hold a sender longer than that (httpx's own timeouts are per read)."""

    def __init__(self, seconds: float) -> None:
        self._seconds, self._inner = seconds, httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        deadline = time.monotonic() + self._seconds
        stream = self._inner.connect_tcp(host, port, timeout=min(timeout or self._seconds, self._seconds),
                                         local_address=local_address, socket_options=socket_options)
        return _DeadlineStream(stream, deadline)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("webhooks connect over TCP only")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class CheckedTransport(httpx.BaseTransport):
    """Connects each request to the address its host was checked to resolve to, and nowhere else.

    The Host header (set when the request was built) and the TLS server name stay the URL's name, so
    virtual hosts and certificate checks work as if the client had resolved the name itself. Every
    attempt has its own connection, which lives at most ``deadline`` seconds.
    """

    def __init__(self, *, verify: ssl.SSLContext | bool = True, deadline: float = 10.0) -> None:
        self._inner = httpx.HTTPTransport(verify=verify, trust_env=False)
        # httpx takes no network backend: give its transport a pool that has the deadline one. No
        # keep-alive, so that a connection (and its deadline) is one attempt's.
        self._inner._pool = httpcore.ConnectionPool(
            ssl_context=verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=verify),
            max_keepalive_connections=0, network_backend=_DeadlineBackend(deadline))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = parse_target(str(request.url))
        address = resolve_checked(url)
        request.url = request.url.copy_with(host=address)
        if request.url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": url.raw_host.decode("ascii")}
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def client(*, timeout: float) -> httpx.Client:
    """An HTTP client for webhook deliveries: checked addresses only, at most ``timeout`` seconds per attempt,
    no redirects, no proxies from the environment."""
    return httpx.Client(transport=CheckedTransport(deadline=timeout), timeout=timeout, follow_redirects=False,
                        trust_env=False)
