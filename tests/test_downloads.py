"""Server-side downloads of provider URLs cannot be steered to internal addresses."""

import ipaddress
import shutil
import socket
import ssl
import subprocess

import pytest
import urllib3.util.connection

from studio import downloads
from studio.downloads import DownloadFailed, DownloadRefused, download
from tests.emulators.base import Emulator, Fault

REAL_GETADDRINFO = socket.getaddrinfo


class Files(Emulator):
    def route(self, request):
        if request.path == "/redirect-internal":
            return 302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"}
        if request.path == "/redirect-https-internal":
            return 302, b"", {"Location": "https://internal.example/x.png"}
        if request.path == "/redirect-ok":
            return 302, b"", {"Location": "/file.png"}
        if request.path == "/big":
            return 200, b"x" * 5000, {}
        if request.path == "/lying-length":
            return 200, b"x" * 10, {"Content-Length": "abc"}
        return 200, b"\x89PNG-bytes", {}


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(downloads, "RETRY_SECONDS", 0.01)


@pytest.fixture
def files(settings):
    server = Files().start()
    settings.DOWNLOAD_INSECURE_HOSTS = {server.url.removeprefix("http://")}
    yield server
    server.stop()


@pytest.fixture
def dns(monkeypatch):
    """A resolver with scripted answers per name, each a list used up one call at a time (the
    last answer repeats); other names resolve as usual. Records every name asked for."""
    answers: dict[str, list[str]] = {}
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        asked.append(host)
        queue = answers[host]
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    dns = type("Dns", (), {"answers": answers, "asked": asked})()
    return dns


def test_a_configured_local_host_is_fetched_and_redirects_are_followed(files):
    assert download(f"{files.url}/redirect-ok", allowed_hosts=()) == b"\x89PNG-bytes"


def test_a_redirect_to_an_internal_address_is_refused(files):
    with pytest.raises(DownloadRefused, match="https only"):
        download(f"{files.url}/redirect-internal", allowed_hosts=("*",))


def test_a_redirect_is_checked_again_by_address(files, dns):
    dns.answers["internal.example"] = ["10.1.2.3"]
    with pytest.raises(DownloadRefused, match=r"internal\.example: it resolves to 10\.1\.2\.3, not a public"):
        download(f"{files.url}/redirect-https-internal", allowed_hosts=("*.example",))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.com/x.png", "https only"),
        ("file:///etc/passwd", "https only"),
        ("https://evil.example/x.png", "not one of the provider's hosts"),
        ("https://localhost/x.png", "not a public address"),
        ("https://127.0.0.1:8443/x.png", "not a public address"),
    ],
)
def test_urls_outside_the_rules_are_refused(url, message):
    with pytest.raises(DownloadRefused, match=message):
        download(url, allowed_hosts=("localhost", "127.0.0.1", "replicate.delivery"))


NOT_PUBLIC = [
    "127.0.0.1",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",  # shared address space (carrier-grade NAT)
    "0.0.0.0",
    "224.0.0.1",  # multicast, which is_global calls global
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "fe80::1",
    "fc00::1",
    "fec0::1",  # site-local (deprecated), which is_global calls global
    "ff02::1",
    "2001:db8::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.1",
    "::127.0.0.1",  # IPv4-compatible
    "::8.8.8.8",  # IPv4-compatible is deprecated: refused whatever it carries
    "64:ff9b::7f00:1",  # NAT64 to 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 to 169.254.169.254
    "64:ff9b:1::808:808",  # NAT64 for local use
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "2001::1",  # Teredo
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
]
PUBLIC = ["8.8.8.8", "151.101.1.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_every_non_public_address_form_is_refused(address, dns):
    assert not downloads.is_public(ipaddress.ip_address(address))
    dns.answers["cdn.example"] = [address]
    with pytest.raises(DownloadRefused, match="not a public address"):
        download("https://cdn.example/x.png", allowed_hosts=("cdn.example",))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_and_the_ipv4_they_carry_are_allowed(address):
    assert downloads.is_public(ipaddress.ip_address(address))


def test_one_private_address_among_public_ones_is_enough_to_refuse(monkeypatch):
    monkeypatch.setattr(downloads, "resolve", lambda host, port: ("8.8.8.8", "::ffff:127.0.0.1"))
    with pytest.raises(DownloadRefused, match=r"::ffff:127\.0\.0\.1, not a public address"):
        download("https://cdn.example/x.png", allowed_hosts=("cdn.example",))


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example:99999/x.png",
        "https://cdn.example:0/x.png",
        "https://cdn.example:abc/x.png",
        "https://cdn.example:-1/x.png",
        "https://[::1/x.png",
    ],
)
def test_a_bad_port_or_malformed_url_is_a_refusal_not_a_crash(url):
    with pytest.raises(DownloadRefused, match="Refused to download"):
        download(url, allowed_hosts=("cdn.example",))


def test_a_bad_port_fails_the_job_with_the_reason(monkeypatch, db):
    """The job shows a download error, not "Atelier hit an internal error"."""
    from studio import tasks
    from studio.models import Job
    from studio.providers import midjourney
    from tests.factories import make_job

    def generate(request, progress):
        downloads.download("https://cdn.discordapp.com:99999/x.png", allowed_hosts=midjourney.CDN_HOSTS)

    monkeypatch.setattr(midjourney, "generate", generate)
    job = make_job(model_id="midjourney-v7")
    tasks.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.error_kind == "unavailable"
    assert "port" in job.error_message and "internal error" not in job.error_message


def test_an_emulator_host_is_resolved_once_and_keeps_its_name_in_the_host_header(files, dns, settings):
    """The second answer (a dead address) is never used; the server still sees its own name."""
    port = files.server.server_address[1]
    settings.DOWNLOAD_INSECURE_HOSTS = {f"rebind.example:{port}"}
    dns.answers["rebind.example"] = ["127.0.0.1", "127.0.0.2"]
    assert download(f"http://rebind.example:{port}/file.png", allowed_hosts=()) == b"\x89PNG-bytes"
    assert dns.asked == ["rebind.example"]  # resolved once
    assert files.requests[-1].headers["host"] == f"rebind.example:{port}"


def test_a_checked_public_address_is_pinned_against_a_rebinding_resolver(dns, monkeypatch):
    dns.answers["cdn.example"] = ["8.8.8.8", "127.0.0.1"]
    connected = []

    def create_connection(address, *args, **kwargs):
        connected.append(address)
        raise ConnectionRefusedError("no network in tests")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    with pytest.raises(DownloadRefused, match="failed"):
        download("https://cdn.example/x.png", allowed_hosts=("cdn.example",), timeout=2)
    assert connected == [("8.8.8.8", 443)] and dns.asked == ["cdn.example"]


def test_each_checked_address_is_tried_in_turn(dns, monkeypatch):
    monkeypatch.setattr(downloads, "resolve", lambda host, port: ("2606:4700::1111", "8.8.8.8"))
    connected = []

    def create_connection(address, *args, **kwargs):
        connected.append(address[0])
        raise ConnectionRefusedError("no network in tests")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    with pytest.raises(DownloadRefused, match="failed"):
        download("https://cdn.example/x.png", allowed_hosts=("cdn.example",), timeout=2)
    assert connected == ["2606:4700::1111", "8.8.8.8"]


@pytest.fixture
def tls_files(tmp_path, monkeypatch):
    """The file server over TLS with a certificate for files.example only, trusted as the CA."""
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "1", "-subj", "/CN=files.example", "-addext", "subjectAltName=DNS:files.example",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = Files()
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
    server.start()
    monkeypatch.setattr(downloads, "CA_BUNDLE", str(cert))
    # 127.0.0.1 passes the address check for this test only: what is tested is TLS by name.
    monkeypatch.setattr(downloads, "is_public", lambda address: True)
    yield server
    server.stop()


def test_tls_to_the_pinned_address_is_verified_for_the_host_name(tls_files, dns):
    port = tls_files.server.server_address[1]
    dns.answers["files.example"] = ["127.0.0.1"]
    dns.answers["other.example"] = ["127.0.0.1"]
    assert download(f"https://files.example:{port}/file.png", allowed_hosts=("*.example",)) == b"\x89PNG-bytes"
    assert tls_files.requests[-1].headers["host"] == f"files.example:{port}"
    with pytest.raises(DownloadRefused, match=r"other\.example failed: its TLS certificate did not verify"):
        download(f"https://other.example:{port}/file.png", allowed_hosts=("*.example",))


def test_size_cap(files):
    with pytest.raises(DownloadRefused, match="limit"):
        download(f"{files.url}/big", allowed_hosts=(), max_bytes=1000)


def test_a_nonsense_content_length_is_not_a_crash(files):
    # The body has no usable length, so it is read until the server closes or goes quiet.
    with pytest.raises(DownloadRefused, match="timed out"):
        download(f"{files.url}/lying-length", allowed_hosts=(), timeout=0.5)


def test_slow_downloads_time_out(files):
    files.faults.append(Fault(delay=1.0, times=3))
    with pytest.raises(DownloadFailed, match=r"timed out after 0\.3 s \(tried 3 times\)"):
        download(f"{files.url}/file.png", allowed_hosts=(), timeout=0.3)
    assert len(files.requests) == 3


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=502, body=b"bad gateway"),
        Fault(status=503, body=b""),
        Fault(delay=1.0),  # a timeout
        Fault(drop=True),  # the connection closed without an answer
    ],
)
def test_a_passing_failure_is_tried_again(files, fault):
    """The result was paid for: a 5xx, a timeout or a lost connection does not throw it away."""
    files.faults.append(fault)
    assert download(f"{files.url}/file.png", allowed_hosts=(), timeout=0.3) == b"\x89PNG-bytes"
    assert len(files.requests) == 2 and not files.faults


def test_tries_are_bounded_and_the_last_failure_says_so(files):
    files.faults.append(Fault(status=500, body=b"", times=10))
    with pytest.raises(DownloadFailed, match=r"answered 500 \(tried 3 times\)"):
        download(f"{files.url}/file.png", allowed_hosts=())
    assert len(files.requests) == downloads.ATTEMPTS == 3


@pytest.mark.parametrize("status", [403, 404, 410])
def test_a_4xx_is_not_tried_again(files, status):
    files.faults.append(Fault(status=status, body=b"", times=3))
    with pytest.raises(DownloadRefused, match=f"answered {status}") as exc:
        download(f"{files.url}/file.png", allowed_hosts=())
    assert not isinstance(exc.value, DownloadFailed) and len(files.requests) == 1


def test_a_download_asked_to_try_once_tries_once(files):
    files.faults.append(Fault(status=502, body=b"", times=3))
    with pytest.raises(DownloadFailed):
        download(f"{files.url}/file.png", allowed_hosts=(), attempts=1)
    assert len(files.requests) == 1
