"""urllib3 and requests on an ``mpssl.SSLContext`` (issue 11), against the HTTPS server of
``test_consumers.py`` (CPython's ``ssl``, committed PKI) on 127.0.0.1.

urllib3 calls ``set_alpn_protocols`` and, with CA certificates to load (requests'
``verify=True``), ``load_verify_locations(cafile, capath, cadata)`` on the context: CPython's
names, which mpssl's context provides (``docs/cpython-consumers.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mpssl
import pytest
import requests
import urllib3
from requests.adapters import HTTPAdapter
from test_consumers import (
    BODY,
    NAME_MISMATCH,
    NOT_TRUSTED,
    HttpsServer,
    client_context,
    https_servers,
)


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[Callable[[str], HttpsServer]]:
    yield from https_servers(tmp_path)


BAD_SERVERS = pytest.mark.parametrize(
    ("leaf", "ca", "text"),
    [("server-test", "ca", NAME_MISMATCH), ("server", "other-ca", NOT_TRUSTED)],
    ids=["wrong-host", "untrusted-ca"],
)


class ContextAdapter(HTTPAdapter):
    """The documented way to give requests an SSL context: through urllib3's pool manager."""

    def __init__(self, ssl_context: Any, **kwargs: Any) -> None:
        self._ssl_context = ssl_context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(*args, **kwargs)


def test_urllib3_pool_manager(https_server: Callable[[str], HttpsServer]) -> None:
    url = f"https://localhost:{https_server('server').port}/"
    with urllib3.PoolManager(ssl_context=client_context()) as pool:
        resp = pool.request("GET", url)
        assert (resp.status, resp.data) == (200, BODY)
        resp = pool.request("POST", url, body=b"xyz" * 1000)
        assert resp.data == (b"xyz" * 1000)[::-1]
        resp = pool.request("GET", url, preload_content=False)
        assert b"".join(resp.stream(1000)) == BODY
        resp.release_conn()
        # One TLS connection served all three.
        assert pool.connection_from_url(url).num_connections == 1


@BAD_SERVERS
def test_urllib3_refuses_a_bad_server(
    https_server: Callable[[str], HttpsServer], leaf: str, ca: str, text: str
) -> None:
    url = f"https://localhost:{https_server(leaf).port}/"
    with (
        urllib3.PoolManager(ssl_context=client_context(ca), retries=False) as pool,
        pytest.raises(ValueError, match=text),
    ):
        pool.request("GET", url)


def test_requests_through_an_adapter(https_server: Callable[[str], HttpsServer]) -> None:
    url = f"https://localhost:{https_server('server').port}/"
    ctx = client_context()
    with requests.Session() as session:
        session.mount("https://", ContextAdapter(ctx))
        # verify=True (the default) also loads requests' CA bundle into ctx.
        resp = session.get(url, timeout=10)
        assert (resp.status_code, resp.content) == (200, BODY)
        resp = session.post(url, data=b"form", timeout=10)
        assert resp.content == b"mrof"
        # A new connection (the CA bundle is loaded into ctx again) still verifies.
        session.get(url, timeout=10, headers={"Connection": "close"})
        assert session.get(url, timeout=10).content == BODY
    assert ctx.verify_mode == mpssl.CERT_REQUIRED


@BAD_SERVERS
def test_requests_refuses_a_bad_server(
    https_server: Callable[[str], HttpsServer], leaf: str, ca: str, text: str
) -> None:
    url = f"https://localhost:{https_server(leaf).port}/"
    with requests.Session() as session:
        session.mount("https://", ContextAdapter(client_context(ca)))
        with pytest.raises(ValueError, match=text):
            session.get(url, timeout=10)
