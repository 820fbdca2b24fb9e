"""Webhook mode: Telegram POSTs updates; we answer 2xx only after the update was applied.

The secret-token header is required and compared in constant time (DESIGN §10). Both runtimes
share this server: each passes a coroutine that applies one raw update.
"""

from __future__ import annotations

import collections
import errno
import hmac
import ipaddress
import json
import logging
import re
import string
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from aiohttp import web

from bot import texts
from handlers.desk import StoreUnavailable
from storage.availability import may_be_outage

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1 << 20

# apply(update, give_up): give_up=True spends an update that keeps failing (the person is
# told it did not go through) instead of trying it once more.
ApplyUpdate = Callable[[dict[str, Any], bool], Awaitable[None]]
# An update that failed (a fault, not an outage) this many times in this process is spent at
# its next delivery, as polling does at the first failure, rather than Telegram retrying it for
# hours while the person hears nothing. The retries before give a passing fault its chance.
# One that cannot even be spent (the runtime cannot read it: a Bot API change the installed
# library does not know, a malformed update) is dropped then, logged, with a 200.
SPEND_AFTER_FAILURES = 3
# Does the database answer now? (for GET /healthz)
HealthProbe = Callable[[], Awaitable[bool]]
HEALTH_PATH = "/healthz"


def secret_ok(expected: str, given: str | None) -> bool:
    if not expected or given is None:
        return False
    # A header's bytes that are not UTF-8 reach us as surrogates; "surrogatepass" encodes any
    # str, so such a header is simply not equal (never an error), still compared in constant
    # time.
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))


def make_webhook_app(path: str, secret: str, apply: ApplyUpdate,
                     database_ok: HealthProbe | None = None) -> web.Application:
    failures: collections.Counter[int] = collections.Counter()

    async def receive(request: web.Request) -> web.Response:
        if not secret_ok(secret, request.headers.get(SECRET_HEADER)):
            return web.Response(status=401, text="unauthorized")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413, text="too large")
        try:
            data = json.loads(await request.read())
        except (ValueError, RecursionError):  # (RecursionError: nested too deep to parse)
            return web.Response(status=400, text="bad json")
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.Response(status=400, text="not an update")
        update_id = int(data["update_id"])
        give_up = failures[update_id] >= SPEND_AFTER_FAILURES
        try:
            await apply(data, give_up)
        except StoreUnavailable:
            # Held as long as the runtime's patience allows; Telegram delivers it again later.
            log.warning("webhook update %s waits for the database; answered 503", update_id)
            return web.Response(status=503, text="database unavailable")
        except Exception as exc:
            if (give_up and may_be_outage(exc) and database_ok is not None
                    and not await database_ok()):
                # Spending it needs the database too, and it is away (asked, as the desk
                # asks: an error of the kind an outage raises may have another cause, and
                # then this update would be delivered for ever): Telegram delivers it later.
                log.warning("webhook update %s is to be spent but the database cannot be "
                            "reached; answered 503", update_id)
                return web.Response(status=503, text="database unavailable")
            if give_up:
                # Spending it failed too (the runtime cannot even read it): answered 2xx so
                # that Telegram stops delivering what no retry will apply. Its failures are
                # kept, so a redelivery comes here again and is dropped too.
                log.exception("webhook update %s (%s) dropped: it failed %d times and could "
                              "not be spent either", update_id, _kinds(data), failures[update_id])
                return web.Response(status=200, text="dropped")
            # Not applied (rolled back): a 5xx makes Telegram deliver it again.
            log.exception("webhook update %s failed", update_id)
            if len(failures) > 10_000:
                failures.clear()
            failures[update_id] += 1
            return web.Response(status=500, text="error")
        failures.pop(update_id, None)
        return web.Response(status=200, text="ok")

    async def health(_request: web.Request) -> web.Response:
        # For monitoring and a load balancer's checks: 200 while this worker can apply
        # updates, 503 while its database cannot be reached (updates wait meanwhile).
        ok = database_ok is None or await database_ok()
        return web.json_response({"ok": ok, "database": "ok" if ok else "unreachable"},
                                 status=200 if ok else 503)

    # Matched on the raw request path: aiohttp's router matches a decoded one, where an
    # escaped "/" or "%" in the webhook URL would not be the path Telegram POSTs to.
    hook_path = canonical_path(path)
    routes: dict[str, tuple[Callable[[web.Request], Awaitable[web.Response]], set[str]]] = {
        hook_path: (receive, {"POST"})}
    if hook_path != HEALTH_PATH:
        routes[HEALTH_PATH] = (health, {"GET", "HEAD"})

    async def route(request: web.Request) -> web.StreamResponse:
        found = routes.get(canonical_path(request.rel_url.raw_path))
        if found is None:
            raise web.HTTPNotFound()
        handler, methods = found
        if request.method not in methods:
            raise web.HTTPMethodNotAllowed(request.method, methods)
        return await handler(request)

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_route("*", "/{tail:(?s:.*)}", route)  # (?s): an escaped newline too
    return app


def _kinds(data: dict[str, Any]) -> str:
    """What an update carries ("message", "callback_query" …), for the log."""
    return ",".join(sorted(str(k) for k in data if k != "update_id"))[:200] or "nothing"


def listen_path(url: str) -> str:
    """The path Telegram POSTs to: the webhook URL's own, "/" when it has none (still
    percent-encoded, as it arrives; see canonical_path)."""
    return canonical_path(urlsplit(url).path)


def telegram_url(url: str) -> str:
    """The webhook URL as handed to setWebhook: a space or non-ASCII in its path or query
    escaped. Telegram requests the path exactly as it was set, sending non-ASCII bytes raw,
    which aiohttp's server refuses (400) before any handler runs."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, _request_line_safe(parts.path),
                       _request_line_safe(parts.query), parts.fragment))


def _request_line_safe(text: str) -> str:
    return re.sub(r"[^\x21-\x7e]", lambda m: quote(m.group(0)), text)


_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def canonical_path(raw: str) -> str:
    """A raw URL path in one spelling of its equivalents (RFC 3986 §6.2.2): escapes in upper
    case, escaped unreserved characters unescaped, and what may not stand in a request line
    (a space, non-ASCII) escaped. Every other escape, %2F and %25 included, stays one."""
    def escape(m: re.Match[str]) -> str:
        char = chr(int(m.group(1), 16))
        return char if char in _UNRESERVED else m.group(0).upper()

    return _ESCAPE.sub(escape, quote(raw, safe="/%:@!$&'()*+,;=")) or "/"


# On shutdown, requests still in hand get this long to finish; then they are cancelled (not
# applied: Telegram delivers them again). An update normally takes milliseconds; one waiting
# for an unreachable database would otherwise hold the stop for its whole patience.
SHUTDOWN_GRACE = 2.5


class ListenError(Exception):
    """The webhook's address cannot be listened on (in use, not this host's, not allowed):
    the message names the address, for the operator."""


def listen_error(host: str, port: int, exc: OSError) -> ListenError:
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return ListenError(texts.LISTEN_IN_USE.format(listen=where))
    return ListenError(texts.LISTEN_FAILED.format(listen=where, error=exc.strerror or exc))


async def serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_GRACE)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise listen_error(host, port, exc) from exc
    return runner


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``127.0.0.1:8443``, ``[::1]:8443``; ``:8443`` or ``8443`` for
    127.0.0.1) → (host, port); ValueError for anything else (an IPv6 address needs its
    brackets)."""
    host, colon, port = listen.strip().rpartition(":")
    if not colon and port.isdigit():
        colon = ":"  # a port alone, as before
    if not colon or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(listen)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        ipaddress.IPv6Address(host)  # (ValueError if it is not one)
    elif ":" in host or "[" in host or "]" in host:
        raise ValueError(listen)
    return host or "127.0.0.1", int(port)
