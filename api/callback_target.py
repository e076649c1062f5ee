"""Where a callback may be sent, and an HTTP client that can reach only that place (SSRF guard).

A `callback_url` comes from an API caller, so without care the server would POST wherever it is
told: the cloud metadata service (169.254.169.254), a database on 127.0.0.1, the office network.
Three rules close that door:

1. `callback_url_problem` (at submission): http/https, a host, no `user:password@`, at most
   `MAX_URL_LENGTH` characters; and, unless `DREAMREEL_CALLBACK_ALLOW_PRIVATE` is true, not a
   non-public IP literal nor a name that resolves only to non-public addresses.
2. `pin_target` (before every delivery attempt): resolve the host once; refuse when nothing
   resolves or when any address is not public (again unless private addresses are allowed).
3. `pinned_client`: connect to exactly that checked address. The request keeps its URL, so the
   `Host` header, TLS SNI and certificate check still use the host name; only the lookup is
   replaced, so a DNS answer that changes between check and connect (DNS rebinding) cannot
   redirect the POST. Redirects are not followed and proxy variables are ignored.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpcore
import httpx

MAX_URL_LENGTH = 2048

# (host, port) -> the addresses to try; raises OSError when the name does not resolve
Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class CallbackRefused(Exception):
    """The callback URL may not be called (now): unresolvable, or a non-public address."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry  # True: may work later (DNS); False: a policy refusal


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, in the system resolver's order, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses hidden in an IPv6 one (::ffff:a.b.c.d, 6to4, Teredo)."""
    found = [address.ipv4_mapped, address.sixtofour]
    if address.teredo is not None:
        found.extend(address.teredo)
    return [a for a in found if a is not None]


def is_public(address: str | IPAddress) -> bool:
    """True for a globally routable unicast address; False for private, loopback, link-local,
    multicast, reserved, unspecified, shared (100.64/10) ones and IPv6 wrappers around them."""
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return False
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_private or ip.is_loopback \
            or ip.is_link_local or ip.is_unspecified:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        return ip.scope_id is None and all(is_public(inner) for inner in _embedded_ipv4(ip))
    return True


def _literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def _url_shape_problem(url: httpx.URL) -> str | None:
    if url.scheme not in ("http", "https"):
        return "callback_url must be an http:// or https:// URL"
    if not url.host:
        return "callback_url has no host"
    if url.userinfo:
        return "callback_url must not contain a user name or password"
    return None


def callback_url_problem(url: str, *, allow_private: bool,
                         resolver: Resolver = system_resolver) -> str | None:
    """Why `url` cannot be accepted as a callback URL, or None when it can. A name that does not
    resolve (yet) is accepted: delivery checks again and records the failure."""
    if len(url) > MAX_URL_LENGTH:
        return f"callback_url is longer than {MAX_URL_LENGTH} characters"
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return f"callback_url is not a valid URL: {exc}"
    if problem := _url_shape_problem(parsed):
        return problem
    if allow_private:
        return None
    host = parsed.raw_host.decode("ascii")
    literal = _literal_ip(host)
    if literal is not None:
        return None if is_public(literal) else f"callback_url points to {literal}, which is not a public address"
    try:
        addresses = resolver(host, _port(parsed))
    except (OSError, UnicodeError):
        return None
    if addresses and not any(is_public(a) for a in addresses):
        return f"callback_url host {host} resolves only to non-public addresses ({', '.join(addresses)})"
    return None


@dataclass(frozen=True)
class PinnedTarget:
    """A callback URL's host and the one checked address every connection goes to."""

    host: str  # as httpcore sees it: lower case, IDNA-encoded, IPv6 without brackets
    port: int
    address: str


def pin_target(url: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> PinnedTarget:
    """Resolve `url`'s host once and choose the address to connect to. Raises `CallbackRefused`
    when the URL is malformed, nothing resolves, or (unless `allow_private`) any resolved address
    is not public: one bad address in the answer is enough to refuse, since we cannot know
    which one a later lookup would pick."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise CallbackRefused(f"not a valid URL: {exc}", retry=False) from exc
    if problem := _url_shape_problem(parsed):
        raise CallbackRefused(problem, retry=False)
    host = parsed.raw_host.decode("ascii")
    port = _port(parsed)
    try:
        addresses = [host] if _literal_ip(host) is not None else resolver(host, port)
    except (OSError, UnicodeError) as exc:
        raise CallbackRefused(f"{host} does not resolve: {exc}", retry=True) from exc
    if not addresses:
        raise CallbackRefused(f"{host} does not resolve: no addresses", retry=True)
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise CallbackRefused(f"{address} is not public", retry=False)
    return PinnedTarget(host=host, port=port, address=addresses[0])


class PinnedBackend(httpcore.NetworkBackend):
    """httpcore's network backend with the DNS lookup replaced by the pinned address; any other
    host is refused (there should be none: no redirects, no proxies)."""

    def __init__(self, target: PinnedTarget) -> None:
        self.target = target
        self._backend = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        if (host, port) != (self.target.host, self.target.port):
            raise httpcore.ConnectError(f"callback connections may only go to {self.target.host}:{self.target.port}")
        return self._backend.connect_tcp(self.target.address, port, timeout=timeout,
                                         local_address=local_address, socket_options=socket_options)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class PinnedTransport(httpx.HTTPTransport):
    """An httpx transport whose connections all go to `target.address` (TLS still verifies the
    certificate for `target.host`, which httpcore passes as the server name)."""

    def __init__(self, target: PinnedTarget, *, ssl_context: ssl.SSLContext | None = None) -> None:
        context = ssl_context or httpx.create_ssl_context()
        super().__init__(verify=context)
        self._pool = httpcore.ConnectionPool(ssl_context=context, network_backend=PinnedBackend(target))


def pinned_client(target: PinnedTarget, *, timeout: float,
                  ssl_context: ssl.SSLContext | None = None) -> httpx.Client:
    """An httpx client that reaches only `target`: pinned address, no redirects, no env proxies."""
    return httpx.Client(transport=PinnedTransport(target, ssl_context=ssl_context), timeout=timeout,
                        follow_redirects=False, trust_env=False)
