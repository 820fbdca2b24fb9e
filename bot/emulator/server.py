"""The HTTP side: aiohttp server for /bot<token>/<method>, file downloads, faults, webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from aiohttp import web
from yarl import URL

from bot.emulator.body import BodyError, UploadedFile, parse_body
from bot.emulator.methods import ApiError, ApiMethods, opt_int, opt_json
from bot.emulator.state import EmulatorState, WebhookConfig, update_chat_key

log = logging.getLogger(__name__)

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden: bot was blocked by the user",
    404: "Not Found", 409: "Conflict", 413: "Request Entity Too Large",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Fault:
    """An injected failure for the next `remaining` calls of `method` ("*" = any method)."""

    method: str
    status: int | None  # None: no error, the answer only comes `delay` late (delay_next)
    retry_after: int | None
    remaining: int
    description: str | None
    applied: bool
    delay: float

    def error(self) -> ApiError:
        assert self.status is not None, "a delay_next fault is no error"
        if self.status == 429:
            retry = 1 if self.retry_after is None else self.retry_after
            return ApiError(429, self.description or f"Too Many Requests: retry after {retry}",
                            retry_after=retry)
        return ApiError(self.status,
                        self.description or _DEFAULT_DESCRIPTIONS.get(self.status, "Error"),
                        retry_after=self.retry_after)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


_NOT_IN_REQUEST_LINE = re.compile(r"[^\x21-\x7e]")


def webhook_target(url: str) -> URL:
    """The webhook URL as Telegram requests it: path and query as given (yarl would decode
    escapes such as %7E and so change the path), only a space or non-ASCII escaped."""
    parts = urlsplit(url)
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    rest = _NOT_IN_REQUEST_LINE.sub(lambda m: quote(m.group(0)), rest)
    return URL(str(URL(url).origin()) + rest, encoded=True)


class BotApiEmulator(EmulatorState):
    """An in-process Telegram Bot API server on 127.0.0.1 (see the package docstring)."""

    def __init__(self, token: str = "123456:TEST", username: str = "zhitong_demo_bot",
                 host: str = "127.0.0.1", port: int = 0, *, bot_name: str = "项目直通车",
                 clock: Callable[[], float] = time.time, first_update_id: int = 1,
                 poll_conflicts: bool = True, webhook_retry_delay: float = 0.1,
                 webhook_retry_max_delay: float = 2.0, webhook_timeout: float = 30.0,
                 max_body_bytes: int = 60 * 1024 * 1024, rtt: float = 0.0) -> None:
        super().__init__(token, username, bot_name=bot_name, clock=clock,
                         first_update_id=first_update_id)
        self.host = host
        self.port = port
        self.api = ApiMethods(self)
        self.poll_conflicts = poll_conflicts
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_retry_max_delay = webhook_retry_max_delay
        self.webhook_timeout = webhook_timeout
        self.max_body_bytes = max_body_bytes
        if rtt < 0:
            raise ValueError("rtt must not be negative")
        # A network between the bot and Telegram: every Bot API call takes rtt/2 to arrive
        # (then it is applied) and rtt/2 for its answer to come back. Loopback has none, which
        # makes a bot look CPU-bound when in production it mostly waits.
        self.rtt = rtt
        self.webhook_deliveries: list[dict[str, Any]] = []
        self._faults: list[Fault] = []
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._poll_generation = 0
        self._waiting_polls = 0
        self._stopping = False

    # ------------------------------------------------------------------ addresses
    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT — what aiogram's TelegramAPIServer.from_base() takes and what
        ZHITONG_TELEGRAM_API should be set to."""
        if self._runner is None:
            raise RuntimeError("emulator not started")
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The Bot API base (same as base_url): methods live at {api_url}/bot{token}/{method}."""
        return self.base_url

    @property
    def ptb_base_url(self) -> str:
        """python-telegram-bot's Bot(base_url=...): it appends the token itself."""
        return f"{self.base_url}/bot"

    @property
    def ptb_base_file_url(self) -> str:
        """python-telegram-bot's Bot(base_file_url=...)."""
        return f"{self.base_url}/file/bot"

    @property
    def waiting_polls(self) -> int:
        """getUpdates calls now parked in a long poll (lets a test know the bot is idle)."""
        return self._waiting_polls

    def method_url(self, method: str) -> str:
        return f"{self.base_url}/bot{self.token}/{method}"

    def file_url(self, file_path: str) -> str:
        return f"{self.base_url}/file/bot{self.token}/{file_path}"

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> BotApiEmulator:
        from bot.emulator.control import add_control_routes

        self._stopping = False
        app = web.Application(client_max_size=self.max_body_bytes)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        add_control_routes(app, self)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        for address in self._runner.addresses:
            if isinstance(address, tuple):
                self.port = int(address[1])
                break
        self._http = aiohttp.ClientSession()
        self._webhook_task = asyncio.create_task(self._webhook_loop(), name="emulator-webhook")
        log.info("Bot API emulator on %s (token %s)", self.base_url, self.token)
        return self

    async def stop(self) -> None:
        self._stopping = True
        self._notify()  # long polls return at once
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiEmulator:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    # ------------------------------------------------------------------ faults
    def fail_next(self, method: str, status: int = 429, retry_after: int | None = None,
                  count: int = 1, description: str | None = None, *, applied: bool = False,
                  delay: float = 0.0) -> None:
        """The next `count` calls of `method` ("*" for any) fail with `status`.

        429 answers carry parameters.retry_after (1 when not given). status=0 drops the
        connection without an answer. applied=True performs the call first and then answers
        with the error (a message sent whose confirmation was lost). delay=seconds holds the
        answer back (for client timeouts).
        """
        if count < 1:
            raise ValueError("count must be >= 1")
        self._faults.append(Fault(method=method.lower(), status=status, retry_after=retry_after,
                                  remaining=count, description=description, applied=applied,
                                  delay=delay))

    def delay_next(self, method: str, seconds: float, count: int = 1) -> None:
        """The next `count` calls of `method` ("*" for any) are answered normally, but only
        after `seconds` (a slow network or a slow Telegram for that call)."""
        if count < 1 or seconds < 0:
            raise ValueError("count must be >= 1 and seconds >= 0")
        self._faults.append(Fault(method=method.lower(), status=None, retry_after=None,
                                  remaining=count, description=None, applied=False,
                                  delay=seconds))

    def faults_waiting(self) -> int:
        """Calls still to be answered by faults set up with `fail_next` / `delay_next`."""
        return sum(fault.remaining for fault in self._faults)

    def clear_faults(self) -> None:
        self._faults.clear()

    def _take_fault(self, method: str) -> Fault | None:
        low = method.lower()
        for fault in self._faults:
            if fault.method in (low, "*") and fault.remaining > 0:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    # ------------------------------------------------------------------ Bot API over HTTP
    async def call(self, method: str, params: dict[str, Any],
                   files: dict[str, UploadedFile] | None = None,
                   request: web.Request | None = None) -> Any:
        """Run a Bot API method (canonical name) and return its result or raise ApiError."""
        files = files or {}
        if method == "getUpdates":
            return await self._get_updates(params, request)
        self.api.description = None
        return self.api.handlers[method](params, files)

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        name = request.match_info["method"]
        try:
            body = await request.read()
            parsed = parse_body(request.headers.get("Content-Type", ""), body,
                                dict(request.query))
        except BodyError as exc:
            return self._answer(name, {}, {}, request, ApiError(400, f"Bad Request: {exc}"))
        except web.HTTPRequestEntityTooLarge:
            return self._answer(name, {}, {}, request,
                                ApiError(413, "Request Entity Too Large"))
        params, files = parsed.params, parsed.files
        if token != self.token:
            # Telegram: a malformed token is 404, a well-formed but wrong one 401.
            error = (ApiError(401, "Unauthorized") if re.fullmatch(r"\d+:[\w-]+", token)
                     else ApiError(404, "Not Found"))
            return self._answer(name, params, files, request, error)
        canonical = self.api.by_lower.get(name.lower())
        if canonical is None and name.lower() == "getupdates":
            canonical = "getUpdates"
        if canonical is None:
            return self._answer(name, params, files, request, ApiError(404, "Not Found"))
        if self.rtt:
            await asyncio.sleep(self.rtt / 2)
            response = await self._apply(canonical, params, files, request)
            await asyncio.sleep(self.rtt / 2)
            return response
        return await self._apply(canonical, params, files, request)

    async def _apply(self, canonical: str, params: dict[str, Any],
                     files: dict[str, UploadedFile], request: web.Request) -> web.StreamResponse:
        fault = self._take_fault(canonical)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.status is not None:
            if fault.applied:
                with contextlib.suppress(ApiError):
                    await self.call(canonical, params, files, request)
            if fault.status == 0:
                self._record(canonical, params, status=0, http_method=request.method,
                             files=files, response=None)
                if request.transport is not None:
                    request.transport.abort()
                # Nothing reaches the client; aiohttp drops the write to the closed socket.
                return web.Response(status=500)
            return self._answer(canonical, params, files, request, fault.error())
        try:
            result = await self.call(canonical, params, files, request)
        except ApiError as exc:
            return self._answer(canonical, params, files, request, exc)
        except Exception:  # a bug in the emulator must look like a server error, loudly
            log.exception("emulator failed in %s", canonical)
            return self._answer(canonical, params, files, request,
                                ApiError(500, "Internal Server Error"))
        return self._answer(canonical, params, files, request, None, result)

    def _answer(self, method: str, params: dict[str, Any], files: dict[str, UploadedFile],
                request: web.Request, error: ApiError | None,
                result: Any = None) -> web.Response:
        if error is not None:
            payload = error.body()
            status = error.code
        else:
            payload = {"ok": True, "result": result}
            if self.api.description and method in ("setWebhook", "deleteWebhook"):
                payload["description"] = self.api.description
            status = 200
        self._record(method, params, status=status, http_method=request.method, files=files,
                     response=payload)
        return web.json_response(payload, status=status, dumps=_dumps)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}, status=401)
        stored = self.file_by_path(request.match_info["path"])
        if stored is None:
            return web.json_response({"ok": False, "error_code": 404,
                                      "description": "Not Found"}, status=404)
        return web.Response(body=stored.data,
                            content_type=stored.mime_type or "application/octet-stream")

    # ------------------------------------------------------------------ getUpdates
    async def _get_updates(self, params: dict[str, Any],
                           request: web.Request | None) -> list[dict[str, Any]]:
        conflict_webhook = ApiError(409, "Conflict: can't use getUpdates method while webhook "
                                         "is active; use deleteWebhook to delete the webhook "
                                         "first")
        if self.webhook is not None:
            raise conflict_webhook
        offset = opt_int(params, "offset")
        limit = min(100, max(1, opt_int(params, "limit") or 100))
        timeout = max(0, opt_int(params, "timeout") or 0)
        allowed = opt_json(params, "allowed_updates", "allowed updates")
        if isinstance(allowed, list):
            # An empty list means the default set; absent means keep the previous setting.
            self.allowed_updates = [str(a) for a in allowed] or None
        if offset:
            self.confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older long poll sees the newer one and ends with 409
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        waiting = False
        try:
            while True:
                changed = self._changed
                if self.webhook is not None:
                    raise conflict_webhook
                if self.poll_conflicts and generation != self._poll_generation:
                    raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                                        "make sure that only one bot instance is running")
                updates = self.deliverable(self.allowed_updates, limit)
                remaining = deadline - loop.time()
                if updates or self._stopping or remaining <= 0:
                    break
                if not waiting:
                    waiting = True
                    self._waiting_polls += 1
                    self._notify()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), remaining)
        finally:
            if waiting:
                self._waiting_polls -= 1
        if request is not None and (request.transport is None or request.transport.is_closing()):
            # The poller went away (killed bot): nothing counts as delivered.
            return []
        self.mark_delivered(updates)
        return copy.deepcopy(updates)

    # ------------------------------------------------------------------ webhook
    async def _webhook_loop(self) -> None:
        tasks: dict[int, tuple[asyncio.Task[None], int | None]] = {}
        try:
            while not self._stopping:
                changed = self._changed
                for uid, (task, _) in list(tasks.items()):
                    if task.done():
                        del tasks[uid]
                hook = self.webhook
                if hook is not None:
                    busy = {key for _, key in tasks.values() if key is not None}
                    for update in self.deliverable(self.allowed_updates, limit=1_000_000):
                        uid = update["update_id"]
                        if uid in tasks:
                            continue
                        key = update_chat_key(update)
                        if key is not None and key in busy:
                            continue  # keep per-chat order: one update per chat in flight
                        if len(tasks) >= hook.max_connections:
                            break
                        task = asyncio.create_task(self._deliver(hook, update),
                                                   name=f"webhook-{uid}")
                        task.add_done_callback(lambda _t: self._notify())
                        tasks[uid] = (task, key)
                        if key is not None:
                            busy.add(key)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), 0.5)
        finally:
            for task, _ in tasks.values():
                task.cancel()
            for task, _ in tasks.values():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _deliver(self, hook: WebhookConfig, update: dict[str, Any]) -> None:
        """POST one update until the receiver answers 2xx (or the webhook changes)."""
        uid = update["update_id"]
        delay = self.webhook_retry_delay
        self.mark_delivered([update])
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        loop = asyncio.get_running_loop()
        while (not self._stopping and self.webhook is hook and uid in self._queue
               and self._http is not None):
            started = loop.time()
            status: int | None = None
            try:
                # Inside the try: a URL that cannot be requested (setWebhook's check lets a
                # port over 65535 through) fails like an unreachable one.
                target = webhook_target(hook.url)
                async with self._http.post(
                        target, data=_dumps(update).encode("utf-8"), headers=headers,
                        timeout=aiohttp.ClientTimeout(total=self.webhook_timeout)) as resp:
                    status = resp.status
                    reply = await resp.read()
                    reply_type = resp.headers.get("Content-Type", "")
                    reason = resp.reason or ""
                error = None if 200 <= status < 300 else (
                    f"Wrong response from the webhook: {status} {reason}".strip())
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
                error = ("Read timeout expired" if isinstance(exc, TimeoutError)
                         else f"Connection failed: {exc.__class__.__name__}")
            self.webhook_deliveries.append({"update_id": uid, "status": status, "error": error,
                                            "time": self.clock(),
                                            "seconds": loop.time() - started})
            if error is None:
                self.acknowledge(uid)
                await self._webhook_reply(reply_type, reply)
                return
            hook.last_error_date = self._now()
            hook.last_error_message = error
            self._notify()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.webhook_retry_max_delay)

    async def _webhook_reply(self, content_type: str, body: bytes) -> None:
        """A webhook may answer with a method call in its body; Telegram executes it."""
        if not body.strip():
            return
        try:
            parsed = parse_body(content_type, body)
        except BodyError:
            return
        method = parsed.params.pop("method", None)
        if not isinstance(method, str):
            return
        canonical = self.api.by_lower.get(method.lower())
        if canonical is None or canonical == "getUpdates":
            self._record(method, parsed.params, status=404, via="webhook_reply",
                         files=parsed.files)
            return
        try:
            result = await self.call(canonical, parsed.params, parsed.files)
            self._record(canonical, parsed.params, status=200, via="webhook_reply",
                         files=parsed.files, response={"ok": True, "result": result})
        except ApiError as exc:
            self._record(canonical, parsed.params, status=exc.code, via="webhook_reply",
                         files=parsed.files, response=exc.body())
