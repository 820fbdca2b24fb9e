"""The webhook HTTP server on its own (bot/webhook.py): what it answers to what arrives.

No bot and no database: `apply` is a stand-in that records what it was given. The runtimes
behind it are exercised end to end in tests/e2e/test_webhook.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from bot.webhook import (
    SECRET_HEADER,
    SPEND_AFTER_FAILURES,
    listen_path,
    make_webhook_app,
    parse_listen,
    serve,
    telegram_url,
)

SECRET = "wh-Secret_0123456789abcdef"
PATH = "/telegram/webhook"

Apply = Callable[[dict[str, Any], bool], Awaitable[None]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A webhook server on a free port, with every apply() call it made."""

    def __init__(self, port: int, calls: list[tuple[int, bool]]) -> None:
        self.port = port
        self.calls = calls

    async def post(self, header_line: bytes, body: bytes) -> int:
        """POST raw bytes, headers as they are (a client library would refuse some)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\n" + header_line
                     + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        await writer.drain()
        answer = await reader.read()
        writer.close()
        return int(answer.split(b" ", 2)[1])

    async def post_update(self, body: bytes) -> int:
        return await self.post(SECRET_HEADER.encode() + b": " + SECRET.encode() + b"\r\n", body)


@pytest.fixture
async def server(request: pytest.FixtureRequest) -> AsyncIterator[Server]:
    """`apply` records each call, then raises the exception given as the parameter (if any)."""
    calls: list[tuple[int, bool]] = []
    fault: BaseException | None = getattr(request, "param", None)

    async def apply(data: dict[str, Any], give_up: bool) -> None:
        calls.append((data["update_id"], give_up))
        if fault is not None:
            raise fault

    port = free_port()
    runner: web.AppRunner = await serve(make_webhook_app(PATH, SECRET, apply), "127.0.0.1", port)
    try:
        yield Server(port, calls)
    finally:
        await runner.cleanup()


async def test_a_secret_header_that_is_not_utf8_is_refused(server: Server) -> None:
    # Anyone who can reach the port may send header bytes that are not UTF-8: they are a wrong
    # secret like any other (401, nothing applied), not a server error.
    for raw in (b"\xff\xfe", SECRET.encode() + b"\xff", b"\xed\xa0\x80"):
        status = await server.post(SECRET_HEADER.encode() + b": " + raw + b"\r\n",
                                   b'{"update_id": 1}')
        assert status == 401, raw
    assert server.calls == []
    assert await server.post_update(b'{"update_id": 1}') == 200
    assert server.calls == [(1, False)]


async def test_json_nested_too_deep_to_parse_is_a_bad_request(server: Server) -> None:
    # Well under the size limit, but too deep for the JSON parser: a 400 like any body that is
    # not JSON, never a 500.
    depth = 100_000
    assert await server.post_update(b"[" * depth + b"]" * depth) == 400
    assert await server.post_update(b'{"a":' * depth + b"1" + b"}" * depth) == 400
    assert await server.post_update(b"{not json") == 400
    assert server.calls == []


@pytest.mark.parametrize("server", [RuntimeError("the runtime cannot read this update")],
                         indirect=True)
async def test_an_update_that_cannot_even_be_spent_is_dropped_after_its_retries(
        server: Server) -> None:
    # apply() fails every time, spending included (the runtime cannot build the update at
    # all): 5xx while it has retries left, then it is tried once more as give_up and, failing
    # that too, answered 200 so that Telegram stops; its redeliveries go the same way.
    body = b'{"update_id": 7, "message": {"text": "hi"}}'
    statuses = [await server.post_update(body) for _ in range(SPEND_AFTER_FAILURES + 2)]
    assert statuses == [500] * SPEND_AFTER_FAILURES + [200, 200]
    assert server.calls == [(7, False)] * SPEND_AFTER_FAILURES + [(7, True), (7, True)]
    # Another update still gets its own retries.
    assert await server.post_update(b'{"update_id": 8}') == 500
    assert server.calls[-1] == (8, False)


@pytest.mark.parametrize("listen, expected", [
    ("127.0.0.1:8443", ("127.0.0.1", 8443)),
    ("0.0.0.0:8081", ("0.0.0.0", 8081)),
    (":8443", ("127.0.0.1", 8443)),
    ("8443", ("127.0.0.1", 8443)),
    ("localhost:80", ("localhost", 80)),
    ("[::1]:8443", ("::1", 8443)),
    ("[::]:8443", ("::", 8443)),
])
def test_listen_takes_a_host_and_port_ipv6_in_brackets(listen: str,
                                                       expected: tuple[str, int]) -> None:
    # `--listen [::1]:8443`: the brackets are the address's, not the host name's.
    assert parse_listen(listen) == expected


@pytest.mark.parametrize("listen", ["127.0.0.1", "::1", "::1:8443", "[::1]",
                                    "[::1:8443", "[nonsense]:8443", "127.0.0.1:http",
                                    "127.0.0.1:0", "127.0.0.1:70000", ""])
def test_a_listen_address_that_cannot_be_served_is_refused(listen: str) -> None:
    with pytest.raises(ValueError):
        parse_listen(listen)


@pytest.mark.parametrize("url, path", [
    ("https://bot.example.gov.cn/telegram/webhook", "/telegram/webhook"),
    ("https://bot.example.gov.cn:8443/tg?x=1", "/tg"),
    ("https://bot.example.gov.cn", "/"),
    ("https://bot.example.gov.cn/", "/"),
    ("https://bot.example.gov.cn/zhitong/tg%20hook", "/zhitong/tg%20hook"),
    ("https://bot.example.gov.cn/hook%2fa%25b%7E", "/hook%2Fa%25b~"),
    ("https://bot.example.gov.cn/tg hook/钩", "/tg%20hook/%E9%92%A9"),
])
def test_the_listen_path_is_where_telegram_posts(url: str, path: str) -> None:
    # The worker listens on the webhook URL's own path, "/" when it has none, still
    # percent-encoded as Telegram sends it (in one spelling of its equivalents).
    assert listen_path(url) == path


async def post_to(port: int, method: bytes, target: bytes, body: bytes = b"") -> int:
    """One request with its target exactly as given (a client library would requote it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(method + b" " + target + b" HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: application/json\r\n" + SECRET_HEADER.encode() + b": "
                 + SECRET.encode() + b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                 % len(body) + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return int(answer.split(b" ", 2)[1])


@contextlib.asynccontextmanager
async def hook_at(url: str) -> AsyncIterator[tuple[int, list[int]]]:
    """A webhook server listening where `url` points: its port, and the update ids applied."""
    calls: list[int] = []

    async def apply(data: dict[str, Any], give_up: bool) -> None:
        calls.append(data["update_id"])

    port = free_port()
    runner = await serve(make_webhook_app(listen_path(url), SECRET, apply), "127.0.0.1", port)
    try:
        yield port, calls
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("url, raw, elsewhere", [
    ("https://h.example/hook%2Fa", b"/hook%2Fa", [b"/hook/a", b"/hook%252Fa"]),
    ("https://h.example/tok%25en", b"/tok%25en", [b"/tok%en", b"/tok%2525en"]),
    ("https://h.example/a%2fb?x=1", b"/a%2Fb?x=1", [b"/a/b"]),
    ("https://h.example/%7Ebot/tg%20hook", b"/~bot/tg%20hook", [b"/~bot/tg+hook"]),
    ("https://h.example/钩子", b"/%E9%92%A9%E5%AD%90", [b"/%E9%92%A9"]),
])
async def test_updates_arrive_at_the_url_path_as_telegram_sends_it(
        url: str, raw: bytes, elsewhere: list[bytes]) -> None:
    # Telegram POSTs to the URL's path still percent-encoded: an escaped "/" or "%" is part
    # of one segment, not a separator or an escape, and only that path receives updates.
    async with hook_at(url) as (port, calls):
        assert await post_to(port, b"POST", raw, b'{"update_id": 1}') == 200
        for other in elsewhere:
            assert await post_to(port, b"POST", other, b'{"update_id": 2}') == 404, other
        assert await post_to(port, b"GET", raw) == 405
        assert await post_to(port, b"GET", b"/healthz") == 200
        assert calls == [1]


def tdlib_request_target(url: str) -> bytes:
    """The request target Telegram's Bot API server sends for a webhook URL: everything after
    host[:port] as it was set, trailing white space dropped, bytes up to 0x20 escaped, every
    other byte (non-ASCII too) sent raw; "/" first when the URL has no path."""
    rest = url.encode("utf-8").split(b"//", 1)[1]
    cut = min([i for i in (rest.find(b"/"), rest.find(b"?"), rest.find(b"#")) if i >= 0],
              default=len(rest))
    target = rest[cut:].rstrip(b" \t\r\n\v\f") or b"/"
    lead = b"" if target.startswith(b"/") else b"/"
    return lead + b"".join(b"%%%02X" % c if c <= 0x20 else bytes([c]) for c in target)


@pytest.mark.parametrize("url", [
    "https://h.example/a%0Ab",  # an escaped newline: the catch-all route must match it too
    "https://h.example/钩子",  # set as escaped (telegram_url): raw UTF-8 would be a 400
    "https://h.example/tg hook/钩子?a=中",
])
async def test_the_url_as_set_with_telegram_is_the_one_updates_arrive_at(url: str) -> None:
    async with hook_at(url) as (port, calls):
        target = tdlib_request_target(telegram_url(url))
        assert await post_to(port, b"POST", target, b'{"update_id": 1}') == 200, target
        assert calls == [1]


async def test_the_webhook_path_answers_only_post_and_healthz_stays(server: Server) -> None:
    port = server.port
    assert await post_to(port, b"GET", PATH.encode()) == 405
    assert await post_to(port, b"PUT", PATH.encode(), b'{"update_id": 1}') == 405
    assert await post_to(port, b"POST", b"/other", b'{"update_id": 1}') == 404
    assert await post_to(port, b"POST", PATH.encode() + b"/", b'{"update_id": 1}') == 404
    assert await post_to(port, b"GET", b"/healthz") == 200
    assert await post_to(port, b"HEAD", b"/healthz") == 200
    assert await post_to(port, b"POST", b"/healthz", b"{}") == 405
    assert await post_to(port, b"POST", PATH.encode() + b"?a=1", b'{"update_id": 3}') == 200
    assert server.calls == [(3, False)]


async def test_an_address_in_use_is_named_not_an_os_error() -> None:
    from bot import texts
    from bot.webhook import ListenError

    async def apply(_data: dict[str, Any], _give_up: bool) -> None:
        pass

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        with pytest.raises(ListenError) as caught:
            await serve(make_webhook_app(PATH, SECRET, apply), "127.0.0.1", port)
    assert str(caught.value) == texts.LISTEN_IN_USE.format(listen=f"127.0.0.1:{port}")
