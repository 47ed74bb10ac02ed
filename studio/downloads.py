"""Fetch a provider's output URL on the server, safely: allow-listed hosts, https, public
addresses only, bounded size and time, and every redirect checked again.

Hosts in settings.DOWNLOAD_INSECURE_HOSTS (host:port, e.g. local emulators) may use http and
private addresses; nothing else can steer a download to an internal address. The address check
runs before connecting; a DNS answer that changes between the check and the connection (DNS
rebinding) is the remaining gap, closed in production by an egress firewall."""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings

MAX_REDIRECTS = 3


class DownloadRefused(Exception):
    """The URL or its answer is not acceptable; the message says why (it reaches the job)."""


def _check(url: str, allowed_hosts: tuple[str, ...]) -> None:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    netloc = f"{host}:{parts.port}" if parts.port else host
    insecure = netloc in settings.DOWNLOAD_INSECURE_HOSTS
    if parts.scheme != "https" and not (parts.scheme == "http" and insecure):
        raise DownloadRefused(f"Refused to download {parts.scheme}:// URL from {host or 'nowhere'}: https only.")
    if not insecure and not any(fnmatch.fnmatch(host, pattern) for pattern in allowed_hosts):
        raise DownloadRefused(f"Refused to download from {host}: not one of the provider's hosts.")
    if insecure:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)}
    except socket.gaierror as exc:
        raise DownloadRefused(f"Could not resolve {host}.") from exc
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global:
            raise DownloadRefused(f"Refused to download from {host}: it resolves to a private address.")


def download(url: str, *, allowed_hosts: tuple[str, ...], max_bytes: int | None = None, timeout: float = 30.0) -> bytes:
    """The bytes at `url`, following at most three redirects, each checked like the first."""
    max_bytes = max_bytes or settings.DOWNLOAD_MAX_BYTES
    with requests.Session() as session:
        for _ in range(MAX_REDIRECTS + 1):
            _check(url, allowed_hosts)
            try:
                response = session.get(url, stream=True, timeout=timeout, allow_redirects=False)
            except requests.Timeout as exc:
                raise DownloadRefused(f"Downloading the result timed out after {timeout:.0f} s.") from exc
            except requests.RequestException as exc:
                raise DownloadRefused(f"Downloading the result failed: {exc.__class__.__name__}.") from exc
            with response:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("location", ""))
                    continue
                if response.status_code != 200:
                    raise DownloadRefused(f"The result URL answered {response.status_code}.")
                declared = int(response.headers.get("content-length") or 0)
                if declared > max_bytes:
                    limit = f"{max_bytes / 1e6:.0f} MB"
                    raise DownloadRefused(f"The result is {declared / 1e6:.1f} MB; the limit is {limit}.")
                data = bytearray()
                for chunk in response.iter_content(64 * 1024):
                    data += chunk
                    if len(data) > max_bytes:
                        raise DownloadRefused(f"The result is over the {max_bytes / 1e6:.0f} MB limit.")
                return bytes(data)
    raise DownloadRefused(f"Too many redirects (more than {MAX_REDIRECTS}).")
