"""Server-side downloads of provider URLs cannot be steered to internal addresses."""

import pytest

from studio.downloads import DownloadRefused, download
from tests.emulators.base import Emulator, Fault


class Files(Emulator):
    def route(self, request):
        if request.path == "/redirect-internal":
            return 302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"}
        if request.path == "/redirect-ok":
            return 302, b"", {"Location": "/file.png"}
        if request.path == "/big":
            return 200, b"x" * 5000, {}
        return 200, b"\x89PNG-bytes", {}


@pytest.fixture
def files(settings):
    server = Files().start()
    settings.DOWNLOAD_INSECURE_HOSTS = {server.url.removeprefix("http://")}
    yield server
    server.stop()


def test_a_configured_local_host_is_fetched_and_redirects_are_followed(files):
    assert download(f"{files.url}/redirect-ok", allowed_hosts=()) == b"\x89PNG-bytes"


def test_a_redirect_to_an_internal_address_is_refused(files):
    with pytest.raises(DownloadRefused, match="https only"):
        download(f"{files.url}/redirect-internal", allowed_hosts=("*",))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.com/x.png", "https only"),
        ("file:///etc/passwd", "https only"),
        ("https://evil.example/x.png", "not one of the provider's hosts"),
        ("https://localhost/x.png", "private address"),
        ("https://127.0.0.1:8443/x.png", "private address"),
    ],
)
def test_urls_outside_the_rules_are_refused(url, message):
    with pytest.raises(DownloadRefused, match=message):
        download(url, allowed_hosts=("localhost", "127.0.0.1", "replicate.delivery"))


def test_size_cap(files):
    with pytest.raises(DownloadRefused, match="limit"):
        download(f"{files.url}/big", allowed_hosts=(), max_bytes=1000)


def test_slow_downloads_time_out(files):
    files.faults.append(Fault(delay=1.0))
    with pytest.raises(DownloadRefused, match="timed out"):
        download(f"{files.url}/file.png", allowed_hosts=(), timeout=0.3)
