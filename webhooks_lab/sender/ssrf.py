"""The SSRF guard: a webhook sender must not become a way into its own network.

Whoever registers a webhook endpoint chooses the URL the *sender's* servers will POST to. If the
sender accepts any URL, an attacker registers ``http://169.254.169.254/latest/meta-data/`` (the
cloud metadata service, which hands out credentials) or ``http://10.0.0.5:6379/`` (an internal
database), and the sender makes the request for them from inside the network: a *server-side
request forgery*. So real senders refuse:

* schemes other than ``http`` and ``https`` (``file:``, ``gopher:``, ...);
* hosts that are, or *resolve to*, private, loopback, link-local, multicast, reserved or otherwise
  non-public addresses. Checking the name is not enough: ``internal.example.com`` can resolve to
  ``10.0.0.5``, so the addresses are checked, and checked again at the moment of connecting
  (:class:`GuardedResolver`), so a name that changes its answer in between cannot slip past.

The lab and ``webhooks-lab send`` allow loopback explicitly (``allow_loopback=True``), because
sending to a receiver on your own machine is what they are for. A job's ``callback_url`` may only
reach this machine: :data:`THIS_MACHINE` allows loopback and nothing else, not even host names
(other than ``localhost``), because a request to start a job is answered before any name could be
looked up. Every check refuses with :class:`UnsafeURL`, saying why; none of them connects.

    >>> try:
    ...     URLGuard().check_url("http://169.254.169.254/latest/meta-data/")
    ... except UnsafeURL as refused:
    ...     print(refused.reason)
    169.254.169.254 is a link-local address (cloud metadata lives here)
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from webhooks_lab.errors import Error

__all__ = ["THIS_MACHINE", "GuardedResolver", "Target", "URLGuard", "UnsafeURL", "address_problem"]

#: The longest URL a guard lets through (browsers and servers commonly stop near here).
MAX_URL_LENGTH = 2048

Resolve = Callable[[str, int], Awaitable[list[str]]]
"""``await resolve(host, port)`` -> the IP addresses (as text) a host name stands for."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(Error, ValueError):
    """A URL the lab refuses to send to. ``exc.reason`` says why in plain words."""

    def __init__(self, url: object, reason: str) -> None:
        shown = url if isinstance(url, str) else repr(url)
        shown = shown if len(shown) <= 100 else shown[:97] + "..."
        super().__init__(f"refused {shown}: {reason}")
        self.url, self.reason = url, reason


@dataclass(frozen=True)
class Target:
    """A URL that passed the first check: its scheme, host and port (the host not yet resolved)."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress | None  # set when the host is a literal IP address


def address_problem(
    address: IPAddress,
    *,
    allow_loopback: bool = False,
    allow_private: bool = False,
    allow_public: bool = True,
) -> str | None:
    """Why a sender must not connect to ``address``, in words; ``None`` if it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1 in disguise
    if address.is_unspecified:
        return f"{address} is the unspecified address (it reaches this machine)"
    if address.is_loopback:
        return None if allow_loopback else f"{address} is a loopback address (this machine)"
    if address.is_link_local:
        return f"{address} is a link-local address (cloud metadata lives here)"
    if address.is_multicast:
        return f"{address} is a multicast address"
    if address.is_reserved:
        return f"{address} is a reserved address"
    if address.is_private:
        return None if allow_private else f"{address} is a private address"
    if not address.is_global:
        return f"{address} is not a public address"
    if not allow_public:
        return f"{address} is not on this machine (only loopback addresses are allowed here)"
    return None


class URLGuard:
    """Decides which URLs and addresses a sender may reach.

    By default only public addresses; ``allow_loopback`` and ``allow_private`` add those,
    ``allow_public=False`` takes public ones away, and ``allow_names=False`` refuses host names
    other than ``localhost`` before anything is looked up. ``resolve`` looks host names up
    (default: the system resolver via the running loop); tests pass a stub so no name is ever
    looked up for real.
    """

    def __init__(
        self,
        *,
        allow_loopback: bool = False,
        allow_private: bool = False,
        allow_public: bool = True,
        allow_names: bool = True,
        resolve: Resolve | None = None,
    ) -> None:
        self.allow_loopback = allow_loopback
        self.allow_private = allow_private
        self.allow_public = allow_public
        self.allow_names = allow_names
        self._resolve = resolve

    def check_url(self, url: str) -> Target:
        """Check what can be checked without the network: scheme, host, literal IP addresses.

        Raises :class:`UnsafeURL`. A host *name* passes here (unless ``allow_names`` is off); its
        addresses are checked by :meth:`resolve` when the sender connects.
        """
        if not isinstance(url, str) or not url:
            raise UnsafeURL(url, "not a URL: give a string like http://127.0.0.1:8000/hook")
        if len(url) > MAX_URL_LENGTH:
            raise UnsafeURL(url, f"the URL is longer than {MAX_URL_LENGTH} characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise UnsafeURL(url, f"not a valid URL ({exc})") from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise UnsafeURL(url, f"only http and https URLs are allowed, not {scheme or 'none'!r}")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise UnsafeURL(url, "the URL has no host")
        if parts.username or parts.password:
            raise UnsafeURL(url, "credentials in the URL are not allowed")
        address = _literal_address(host)
        if address is not None:
            self._check_address(url, address)
        elif not self.allow_names and host.lower() != "localhost":
            raise UnsafeURL(
                url,
                f"{host[:60]} is a host name, which could resolve anywhere; only addresses "
                "on this machine are allowed here (127.0.0.1, ::1 or localhost)",
            )
        return Target(url, scheme, host, port or (443 if scheme == "https" else 80), address)

    async def resolve(self, host: str, port: int, url: str | None = None) -> list[str]:
        """The addresses ``host`` resolves to, after checking every one of them.

        If *any* address is refused the whole name is refused: a name that answers with one
        public and one private address is exactly the trick an attacker would use.
        """
        literal = _literal_address(host)
        if literal is not None:
            self._check_address(url or host, literal)
            return [str(literal)]
        lookup = self._resolve or _system_resolve
        addresses = await lookup(host, port)
        if not addresses:
            raise UnsafeURL(url or host, f"{host} did not resolve to any address")
        for text in addresses:
            self._check_address(url or host, ipaddress.ip_address(text.split("%")[0]), host)
        return addresses

    def _check_address(self, url: str, address: IPAddress, name: str | None = None) -> None:
        problem = address_problem(
            address,
            allow_loopback=self.allow_loopback,
            allow_private=self.allow_private,
            allow_public=self.allow_public,
        )
        if problem is not None:
            via = f"{name} resolves to " if name else ""
            raise UnsafeURL(url, via + problem)

    def __repr__(self) -> str:
        allowed = [n for n, on in (("public addresses", self.allow_public),
                                   ("loopback", self.allow_loopback),
                                   ("private", self.allow_private)) if on]  # fmt: skip
        names = "" if self.allow_names else "; no host names but localhost"
        return f"URLGuard({' + '.join(allowed) or 'nothing'}{names})"


#: Only this machine: loopback addresses and ``localhost``, never a name that could go elsewhere.
THIS_MACHINE = URLGuard(allow_loopback=True, allow_public=False, allow_names=False)


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


async def _system_resolve(host: str, port: int) -> list[str]:
    import asyncio

    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def GuardedResolver(guard: URLGuard) -> Any:  # noqa: N802 - reads like the class it builds
    """An aiohttp resolver that only ever hands aiohttp addresses the guard allows.

    aiohttp asks its resolver for a host's addresses right before it connects, so checking here
    closes the gap between "checked the name" and "connected to whatever it pointed at by then".
    (aiohttp skips the resolver for literal IP addresses; :meth:`URLGuard.check_url` has
    already checked those.)
    """
    from aiohttp.abc import AbstractResolver, ResolveResult

    class _Guarded(AbstractResolver):
        async def resolve(
            self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
        ) -> list[ResolveResult]:
            addresses = await guard.resolve(host, port)
            return [
                ResolveResult(
                    hostname=host,
                    host=address,
                    port=port,
                    family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                    proto=0,
                    flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                )
                for address in addresses
            ]

        async def close(self) -> None:
            return None

    return _Guarded()
