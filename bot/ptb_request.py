"""python-telegram-bot's HTTP requests over aiohttp, through PTB's own `BaseRequest` interface.

PTB's stock `HTTPXRequest` costs 1.2–1.4 ms of CPU per Bot API request on loopback; httpcore
checks every pooled connection (a socket poll each) before each request. Over aiohttp the same
request costs 0.3–0.45 ms. The report flow makes three requests per update, so this is the
largest single cost of the PTB runtime. PTB still builds every request and reads every answer
(errors, 429 `retry_after`, flood control); only the bytes travel differently.
`ZHITONG_PTB_HTTP=httpx` goes back to PTB's stock client (e.g. for a SOCKS proxy).
"""

from __future__ import annotations

import ssl
import urllib.parse
import urllib.request
from typing import Any

import aiohttp
import certifi
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_DEFAULT = type(BaseRequest.DEFAULT_NONE)
MEDIA_WRITE_TIMEOUT = 20.0  # seconds, as PTB's HTTPXRequest allows for uploading media


def _given(value: Any, default: float | None) -> float | None:
    """A timeout PTB passed, or ours when it passed its "not given" marker."""
    return default if isinstance(value, _DEFAULT) else value


class AiohttpRequest(BaseRequest):
    """One aiohttp session with at most `connections` connections.

    Timeouts as PTB's: `read_timeout` for the answer, `connect_timeout` to connect and
    `pool_timeout` to wait for a free connection (aiohttp counts these two together). aiohttp has
    no write timeout: a request carrying files gets the write timeout (PTB's 20 s for media)
    plus the read timeout for the whole exchange. A proxy comes from
    the environment (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY; NO_PROXY), as with httpx."""

    def __init__(self, connections: int = 16, read_timeout: float | None = 5.0,
                 connect_timeout: float | None = 5.0, pool_timeout: float | None = 1.0) -> None:
        self._connections = connections
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str | None] = {}

    def _proxy_for(self, url: str) -> str | None:
        parts = urllib.parse.urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._proxies:
            self._proxies[origin] = env_proxy(parts.scheme, parts.hostname or "")
        return self._proxies[origin]

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # Not trust_env: it reads the proxy variables and ~/.netrc on every request (0.45 ms
            # each, more than the request); the proxy is looked up once per host instead.
            # certifi's roots, as httpx and aiogram use: a slim server image may have none.
            tls = ssl.create_default_context(cafile=certifi.where())
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections, ssl=tls))

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        connect = _given(connect_timeout, self._connect_timeout)
        pool = _given(pool_timeout, self._pool_timeout)
        read = _given(read_timeout, self._read_timeout)
        total = None
        if request_data is not None and request_data.contains_files:
            # aiohttp times the answer, not the upload: bound an upload as a whole.
            write = _given(write_timeout, MEDIA_WRITE_TIMEOUT)
            total = None if write is None or read is None else write + read
        timeout = aiohttp.ClientTimeout(
            total=total,
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with session.request(method, url, data=_body(request_data), timeout=timeout,
                                       proxy=self._proxy_for(url)) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors too
            raise TimedOut(f"aiohttp.{exc.__class__.__name__}: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{exc.__class__.__name__}: {exc}") from exc


def env_proxy(scheme: str, host: str) -> str | None:
    """The proxy the environment names for `scheme://host`, or None (also when NO_PROXY lists
    the host)."""
    proxies = urllib.request.getproxies_environment()
    if not host or urllib.request.proxy_bypass(host):
        return None
    return proxies.get(scheme) or proxies.get("all")


def _body(request_data: RequestData | None) -> Any:
    """Form fields as PTB encodes them (JSON values as strings); multipart when files go too.

    File names go as written (UTF-8): Telegram's Bot API server takes `filename="…"` verbatim,
    so aiohttp's default percent-encoding would reach the person as the document's name
    ("%E9%97%AE….xlsx" for 问题台账.xlsx). aiogram and httpx send them the same way."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    if not request_data.contains_files:
        return fields
    form = aiohttp.FormData(quote_fields=False)
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename or name, content_type=mimetype)
    return form
