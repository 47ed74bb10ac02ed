"""Fetch a provider's output URL on the server, safely: allow-listed hosts, https, public
addresses only, bounded size and time, every redirect checked again, and the connection made to
the address that was checked.

Each hop resolves its host once and every address it gets must be public (an IPv4 address carried
inside IPv6 is judged as that IPv4 address). The socket then connects to a checked address while
the Host header, SNI and the certificate check use the name, so a DNS answer that changes after
the check (DNS rebinding) cannot steer the download. Hosts in settings.DOWNLOAD_INSECURE_HOSTS
(host:port, e.g. local emulators) may use http and private addresses; nothing else can reach an
internal address. Environment proxies are not used: they would resolve the name again."""

from __future__ import annotations

import fnmatch
import ipaddress
import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import urllib3
from django.conf import settings
from requests.utils import DEFAULT_CA_BUNDLE_PATH, requote_uri
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, SSLError
from urllib3.exceptions import HTTPError as TransportError
from urllib3.exceptions import TimeoutError as TransportTimeout

MAX_REDIRECTS = 3
# Tries of a download that fails for a passing reason, and the wait before the second (doubled
# before each next): short, as a worker waits, and the URLs live for about an hour.
ATTEMPTS = 3
RETRY_SECONDS = 1.0
CHUNK_BYTES = 64 * 1024
# The trust store requests uses; a test points it at its own certificate authority.
CA_BUNDLE = DEFAULT_CA_BUNDLE_PATH
USER_AGENT = "Atelier (result download)"

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 forms that carry an IPv4 address in their last or second 32 bits: judged by that address.
# NAT64's well-known prefix (RFC 6052) reaches any IPv4 host through the network's translator;
# 6to4 (RFC 3056) tunnels to the IPv4 host it names. IPv4-mapped has an accessor of its own.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
# IPv6 forms refused whatever they carry: IPv4-compatible (deprecated; also holds :: and ::1),
# NAT64 for local use (RFC 8215, prefix layout is the network's own) and Teredo (a tunnel
# through a relay to an obfuscated address).
REFUSED = (
    ipaddress.IPv6Network("::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("2001::/32"),
)


class DownloadRefused(Exception):
    """The URL or its answer is not acceptable; the message says why (it reaches the job)."""


class DownloadFailed(DownloadRefused):
    """The download failed for a passing reason (a 5xx, a timeout, a connection lost), every time
    it was tried."""


class DownloadGone(DownloadRefused):
    """The URL answered 404 or 410: the result is no longer there (Replicate deletes outputs after
    about an hour), so fetching it again cannot help."""


def is_public(address: IPAddress) -> bool:
    """Whether `address` is a public unicast address, IPv4 embedded in IPv6 included."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if address in NAT64:
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF))
        if address in SIX_TO_FOUR:
            return is_public(address.sixtofour)
        if address.is_site_local or any(address in network for network in REFUSED):
            return False
    # is_global alone lets multicast and some reserved ranges through (and its meaning moves
    # between Python releases), so each kind is refused by name as well.
    return address.is_global and not (
        address.is_private
        or address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
    )


@dataclass(frozen=True)
class Target:
    """One hop: where the request goes by name, and the checked addresses it may connect to."""

    scheme: str
    host: str  # for SNI and the certificate check
    port: int
    host_header: str  # the URL's host[:port], as a browser would send it
    path: str  # path and query
    addresses: tuple[str, ...]


def resolve(host: str, port: int) -> tuple[str, ...]:
    """The host's addresses, once, in the resolver's order of preference."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:  # gaierror is an OSError
        raise DownloadRefused(f"Could not resolve {host}.") from exc
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise DownloadRefused(f"Could not resolve {host}.")
    return addresses


def target(url: str, allowed_hosts: tuple[str, ...]) -> Target:
    """Check a URL against the rules and pin the addresses its connection may use."""
    try:
        parts = urlsplit(requote_uri(url))
    except ValueError as exc:  # a broken IPv6 literal, say
        raise DownloadRefused(f"Refused to download {url[:200]!r}: {exc}.") from exc
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = 0  # out of range or not a number
    if port == 0:
        raise DownloadRefused(f"Refused to download from {host}: the URL's port is not a number from 1 to 65535.")
    netloc = f"{host}:{port}" if port else host
    insecure = netloc in settings.DOWNLOAD_INSECURE_HOSTS
    if parts.scheme != "https" and not (parts.scheme == "http" and insecure):
        raise DownloadRefused(f"Refused to download {parts.scheme}:// URL from {host or 'nowhere'}: https only.")
    if not insecure and not any(fnmatch.fnmatchcase(host, pattern) for pattern in allowed_hosts):
        raise DownloadRefused(f"Refused to download from {host}: not one of the provider's hosts.")
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(host, port)
    if not insecure:
        for address in addresses:
            if not is_public(ipaddress.ip_address(address.split("%")[0])):
                raise DownloadRefused(
                    f"Refused to download from {host}: it resolves to {address}, not a public address."
                )
    return Target(
        scheme=parts.scheme,
        host=host,
        port=port,
        host_header=parts.netloc.rpartition("@")[2],
        path=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
        addresses=addresses,
    )


def _pool(target: Target, address: str, timeout: float) -> urllib3.HTTPConnectionPool:
    """A connection pool to `address` that speaks to `target.host`: TLS is verified for the name."""
    common = {"port": target.port, "timeout": urllib3.Timeout(connect=timeout, read=timeout), "retries": False}
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address, server_hostname=target.host, cert_reqs="CERT_REQUIRED", ca_certs=CA_BUNDLE, **common
        )
    return urllib3.HTTPConnectionPool(address, **common)


@contextmanager
def _get(target: Target, timeout: float) -> Iterator[urllib3.BaseHTTPResponse]:
    """GET the target from the first of its checked addresses that accepts a connection."""
    headers = {"Host": target.host_header, "User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    for i, address in enumerate(target.addresses):
        with _pool(target, address, timeout) as pool:
            try:
                response = pool.urlopen(
                    "GET", target.path, headers=headers, redirect=False, retries=False, preload_content=False
                )
            except (NewConnectionError, ConnectTimeoutError):
                if i == len(target.addresses) - 1:
                    raise
                continue
            try:
                yield response
            finally:
                response.release_conn()
            return


def _declared_length(value: str | None) -> int:
    try:
        return max(int(value or 0), 0)
    except ValueError:
        return 0  # unknown: the read below still stops at the cap


def _read(response: urllib3.BaseHTTPResponse, max_bytes: int) -> bytes:
    limit = f"{max_bytes / 1e6:.0f} MB"
    declared = _declared_length(response.headers.get("content-length"))
    if declared > max_bytes:
        raise DownloadRefused(f"The result is {declared / 1e6:.1f} MB; the limit is {limit}.")
    data = bytearray()
    for chunk in response.stream(CHUNK_BYTES, decode_content=True):
        data += chunk
        if len(data) > max_bytes:
            raise DownloadRefused(f"The result is over the {limit} limit.")
    return bytes(data)


def download(
    url: str,
    *,
    allowed_hosts: tuple[str, ...],
    max_bytes: int | None = None,
    timeout: float = 30.0,
    attempts: int = ATTEMPTS,
) -> bytes:
    """The bytes at `url`, following at most three redirects, each checked like the first. A
    passing failure (a 5xx, a timeout, a connection lost) is tried again, `attempts` times in all
    with a short wait between: the result was paid for, and its URL lives for about an hour."""
    attempt = 1
    while True:
        try:
            return _download(url, allowed_hosts, max_bytes or settings.DOWNLOAD_MAX_BYTES, timeout)
        except DownloadFailed as exc:
            if attempt >= attempts:
                raise DownloadFailed(f"{str(exc).rstrip('.')} (tried {attempt} times).") from exc
            wait = RETRY_SECONDS * 2 ** (attempt - 1)
            log.info("download from %s failed (%s); trying again in %.1fs", urlsplit(url).hostname, exc, wait)
            time.sleep(wait)
            attempt += 1


def _download(url: str, allowed_hosts: tuple[str, ...], max_bytes: int, timeout: float) -> bytes:
    for _ in range(MAX_REDIRECTS + 1):
        hop = target(url, allowed_hosts)
        try:
            with _get(hop, timeout) as response:
                if location := response.get_redirect_location():
                    url = urljoin(url, location)
                    continue
                if response.status >= 500:
                    raise DownloadFailed(f"The result URL answered {response.status}.")
                if response.status in (404, 410):
                    raise DownloadGone(f"The result URL answered {response.status}.")
                if response.status != 200:
                    raise DownloadRefused(f"The result URL answered {response.status}.")
                return _read(response, max_bytes)
        except NewConnectionError as exc:  # checked before timeouts: urllib3 makes it a ConnectTimeoutError
            raise DownloadRefused(f"Downloading the result failed: could not connect to {hop.host}.") from exc
        except TransportTimeout as exc:
            raise DownloadFailed(f"Downloading the result timed out after {timeout:g} s.") from exc
        except SSLError as exc:
            raise DownloadRefused(f"Downloading from {hop.host} failed: its TLS certificate did not verify.") from exc
        except (TransportError, OSError) as exc:  # the connection broke: reset, closed without an answer
            raise DownloadFailed(f"Downloading the result failed: {exc.__class__.__name__}.") from exc
    raise DownloadRefused(f"Too many redirects (more than {MAX_REDIRECTS}).")
