"""Load benchmark (not a test): the full report flow against a bare echo bot, same runtime.

For each runtime (aiogram, then python-telegram-bot) and each database (SQLite, then
PostgreSQL) this script

1. starts the Bot API emulator in this process (real HTTP on 127.0.0.1);
2. runs a bare echo bot, written here directly with the framework's defaults, as a subprocess
   polling the emulator, and drives max(2 x N, 2000) text messages through it from U users at
   once (each user waits for the echo before sending the next);
   For PTB the same echo runs a second time over aiohttp (bot/ptb_request.py), the HTTP client
   zhitong's PTB runtime uses; the full flow is compared with both;
2a. the same echo bot answering every text with three messages (the echo last) — as many Bot
   API requests per update as the report flow makes, with no database and no logic: the most
   any implementation of the flow could reach on this runtime (PTB over aiohttp, as zhitong
   sends; skip with --no-matched-echo);
2b. per database, a *durable echo* (`zhitong run`'s own runtime and outbox sender with the desk
   replaced by: record the update and enqueue its echo in one transaction) under the same
   stream — the floor of the acknowledge-after-apply, send-through-the-outbox design, so the
   report shows how much of the gap to the echo is that design and how much the report flow;
   and the same durable echo enqueuing three messages per text (the echo last): the design's
   ceiling for a flow of three Bot API requests per update, with no business at all; and its
   cheapest form DESIGN §10 allows ("dur. min"): two of the three sent straight back to the
   person after the commit (plain aiohttp, no framework models; the reply not even kept for a
   redelivery, which would cost more) and only the third, as a push to another person would,
   through the outbox (skip all three with --no-durable-echo);
3. creates a fresh database, loads a generated organisation (U enterprise contacts, one project
   each, 12 units with two officials each) with `storage.orgfile.load_org_file` +
   `handlers.org.do_load_org`, runs `zhitong run` (polling, `--no-scheduler`) as a subprocess,
   and drives N full report flows from the same U users:
   enterprise text → confirmation card (提交) → press 提交 → receipt (诉求编号) to the reporter and
   the official card (受理) to the handling unit's officials.

Latency is the time from injecting an update into the emulator to the bot's reply appearing
in it (the card after the text, the receipt after the press; the official card is reported
too). Throughput is counted in updates answered per second — a flow is two updates, an echo
one — and flows per second are printed beside it. Target: full flow >= 0.5 x echo.

The emulator is not Telegram: for the run the bot's rate limits are lifted
(ZHITONG_RATE_LIMIT_PER_MINUTE, ZHITONG_SEND_GLOBAL_PER_SECOND), per-chat pacing is 0
(ZHITONG_SEND_PER_CHAT_INTERVAL=0) and 24 pushes may wait for an answer at once
(ZHITONG_SEND_CONCURRENCY); in production the outbox paces to ~1 msg/s per chat and ~25 msg/s
overall, which is what bounds a real deployment's pushes.

The emulator answers at once unless --rtt-ms adds a network round trip to every Bot API call.
On loopback the bots are CPU-bound and the comparison is one of CPU per update; with a round
trip (Telegram from a server: tens to hundreds of ms) it shows how the bot copes with waiting.

    .venv/bin/python benchmarks/load.py                      # N=1000 flows, U=100 users
    .venv/bin/python benchmarks/load.py --flows 300 --users 50 --frameworks ptb
    .venv/bin/python benchmarks/load.py --backends sqlite --json

PostgreSQL: ZHITONG_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test)
must allow CREATE DATABASE; a scratch database is created and dropped per run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parents[1]
sys.path.insert(0, str(REPO))

from bot.emulator import BotApiEmulator  # noqa: E402
from bot.runtime_common import connections_for  # noqa: E402

TOKEN = "424242:LOAD-BENCH-TOKEN"
ENTERPRISE_BASE = 810_000
OFFICIAL_BASE = 910_000
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
SUBMIT = "提交"
ACCEPT = "受理"
RECEIPT = "诉求编号"
# Bot API requests the report flow makes per update (the card; then the toast, the card's edit,
# the receipt and a card for each of the unit's two officials): the request-matched echo sends
# this many messages per text.
FLOW_REQUESTS = 3
PROFILE_DIR: Path | None = None  # --profile DIR: run zhitong under cProfile, stats there
BENCH_SEND_CONCURRENCY = 24  # pushes in flight: enough for ~100 upd/s at a 0.1 s round trip
RTT = 0.0  # --rtt-ms: the emulator's network round trip per Bot API call, in seconds
MARK = re.compile(r"〔u(\d+)k(\d+)〕")

# Reports the tagger files with confidence (a card with 提交, not a category question).
REPORTS = (
    "我们园区北侧的高压线迁改一直没人对接,影响厂房基础施工,麻烦尽快协调供电公司",
    "项目用地指标还没有下达,土地挂牌出让迟迟不能启动,请自然资源局协调",
    "环评批复一直没有办下来,施工许可证也卡住了,希望审批局加快办理",
    "厂区供水管网还没接通,施工用水只能靠水车拉,请协调水务接入",
    "银行贷款审批进度很慢,项目资金缺口较大,希望金融服务中心帮助对接",
    "招工困难,技术工人缺口两百人,希望人社局组织专场招聘",
    "工地周边有村民阻工,要求强揽土方工程,施工无法正常进行",
)

UNITS = (
    ("zdb", "县重点项目办公室", "dispatcher"), ("fgw", "县发展和改革委员会", None),
    ("zrzyj", "县自然资源局", None), ("zsb", "县土地征收办公室", None),
    ("xzspj", "县行政审批和政务信息管理局", None), ("jrj", "县金融服务中心", None),
    ("gdgs", "县供电公司", "utility"), ("rsj", "县人力资源和社会保障局", None),
    ("gaj", "县公安局", None), ("jtj", "县交通运输局", None),
    ("sthjj", "市生态环境局示范分局", None), ("cgz", "城关镇人民政府", "township"),
)
CATEGORIES = (
    ("land", "用地保障", "zrzyj", 15), ("demolition", "征地拆迁", "zsb", 15),
    ("approval", "审批手续", "xzspj", 7), ("finance", "资金融资", "jrj", 10),
    ("utilities", "水电气网配套", "gdgs", 7), ("policy", "惠企政策", "fgw", 5),
    ("labor", "用工人才", "rsj", 7), ("site", "施工环境", "gaj", 3),
    ("logistics", "交通物流", "jtj", 7), ("environment", "环保安全", "sthjj", 7),
    ("other", "其他", "zdb", 7),
)


# --- organisation and databases ---------------------------------------------------------------


def org_document(contacts: int, officials_per_unit: int = 2) -> dict[str, Any]:
    """An organisation with `contacts` enterprise contacts, one project each."""
    people: list[dict[str, Any]] = [
        {"id": "lead1", "name": "李副县长", "telegram_id": OFFICIAL_BASE, "roles": ["leader"]},
        {"id": "admin1", "name": "赵主任", "telegram_id": OFFICIAL_BASE + 1,
         "roles": ["admin", "official"], "unit": "zdb"},
    ]
    n = 2
    for code, _name, _kind in UNITS:
        for k in range(officials_per_unit):
            people.append({"id": f"o_{code}_{k}", "name": f"{code}科员{k}",
                           "telegram_id": OFFICIAL_BASE + 10 + n, "roles": ["official"],
                           "unit": code})
            n += 1
    projects = []
    for i in range(contacts):
        pid = f"e{i:05d}"
        people.append({"id": pid, "name": f"企业联系人{i}", "telegram_id": ENTERPRISE_BASE + i,
                       "roles": ["enterprise"]})
        projects.append({"code": f"L2026-{i:05d}", "name": f"压测项目{i}号", "level": "县重点",
                         "stage": "started", "lead_unit": "fgw", "leader": "lead1",
                         "total_investment_wan": 10000, "annual_plan_wan": 3000,
                         "contacts": [pid]})
    units = [{"code": c, "name": nm, **({"kind": k} if k else {})} for c, nm, k in UNITS]
    categories = [{"code": c, "name": nm, "unit": u, "days": d} for c, nm, u, d in CATEGORIES]
    return {"county": "压测县", "units": units, "categories": categories, "people": people,
            "projects": projects}


def enterprise_ids(contacts: int) -> list[int]:
    return [ENTERPRISE_BASE + i for i in range(contacts)]


def people_of(doc: dict[str, Any]) -> dict[int, str]:
    return {int(p["telegram_id"]): str(p["name"]) for p in doc["people"] if p.get("telegram_id")}


async def load_org(url: str, doc: dict[str, Any], workdir: Path) -> None:
    import yaml

    from domain.clock import SystemClock
    from handlers.org import do_load_org
    from storage.db import make_engine, make_sessionmaker
    from storage.orgfile import load_org_file
    from storage.uow import UnitOfWorkFactory

    path = workdir / "org.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    spec = load_org_file(path)
    engine = make_engine(url)
    try:
        async with UnitOfWorkFactory(make_sessionmaker(engine))() as uow:
            await do_load_org(uow, spec, SystemClock().now())
            await uow.commit()
    finally:
        await engine.dispose()


def postgres_admin_url() -> str:
    return os.environ.get("ZHITONG_TEST_POSTGRES_URL", DEFAULT_PG)


@contextlib.asynccontextmanager
async def fresh_database(backend: str, workdir: Path) -> Any:
    """A migrated, empty database URL; PostgreSQL scratch databases are dropped afterwards."""
    from storage.migrate import upgrade

    if backend == "sqlite":
        url = f"sqlite:///{workdir / f'zhitong-{uuid.uuid4().hex[:6]}.db'}"
        await asyncio.to_thread(upgrade, url)
        yield url
        return
    import asyncpg

    admin = postgres_admin_url()
    name = f"zt_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = f"{admin.rpartition('/')[0]}/{name}"
    try:
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def postgres_reachable() -> str | None:
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(postgres_admin_url(), timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
        return None
    except Exception as exc:
        return str(exc)


# --- the emulator, watched --------------------------------------------------------------------


@dataclass
class Reply:
    method: str
    at: float
    message: dict[str, Any]

    @property
    def text(self) -> str:
        return str(self.message.get("text") or self.message.get("caption") or "")

    def buttons(self) -> list[dict[str, Any]]:
        markup = self.message.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]


@dataclass
class Inbox:
    replies: list[Reply] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class WatchedEmulator(BotApiEmulator):
    """Notes the moment each bot message (send or edit) lands, per chat, as it happens."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inboxes: dict[int, Inbox] = {}
        self.marks: dict[str, float] = {}  # "u…k…" marker → first official card's time
        self.mark_waiters: dict[str, asyncio.Future[float]] = {}
        self.official_chats: set[int] = set()
        self.sent_count = 0
        self.api_calls = 0  # every Bot API request but getUpdates, answered or refused

    def inbox(self, chat_id: int) -> Inbox:
        box = self.inboxes.get(chat_id)
        if box is None:
            box = self.inboxes[chat_id] = Inbox()
        return box

    def _record(self, method: str, params: dict[str, Any], **kwargs: Any) -> Any:
        rec = super()._record(method, params, **kwargs)
        if method != "getUpdates":
            self.api_calls += 1
        if method not in ("sendMessage", "editMessageText") or rec.status != 200:
            return rec
        now = time.perf_counter()
        result = (rec.response or {}).get("result")
        if not isinstance(result, dict):
            return rec
        chat_id = int(result.get("chat", {}).get("id", 0))
        self.sent_count += 1
        box = self.inbox(chat_id)
        reply = Reply(method, now, result)
        box.replies.append(reply)
        box.changed.set()
        box.changed = asyncio.Event()
        if chat_id in self.official_chats and method == "sendMessage":
            m = MARK.search(reply.text)
            if m is not None:
                key = f"u{m.group(1)}k{m.group(2)}"
                if key not in self.marks:
                    self.marks[key] = now
                    waiter = self.mark_waiters.pop(key, None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(now)
        return rec

    async def next_reply(self, chat_id: int, start: int, want: Callable[[Reply], bool],
                         timeout: float = 60.0) -> tuple[Reply, int]:
        """The first reply at index >= start that `want`s; returns it and the next index."""
        box = self.inbox(chat_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        i = start
        while True:
            while i < len(box.replies):
                reply = box.replies[i]
                i += 1
                if want(reply):
                    return reply, i
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no expected reply in chat {chat_id}; last: "
                                   f"{[r.text[:40] for r in box.replies[-3:]]}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(box.changed.wait(), remaining)

    async def official_card(self, key: str, timeout: float = 60.0) -> float:
        if key in self.marks:
            return self.marks[key]
        fut = self.mark_waiters.get(key)
        if fut is None:
            fut = self.mark_waiters[key] = asyncio.get_running_loop().create_future()
        return await asyncio.wait_for(fut, timeout)


@contextlib.asynccontextmanager
async def watched(emu: WatchedEmulator) -> AsyncIterator[WatchedEmulator]:
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


# --- processes --------------------------------------------------------------------------------


def bot_env(url: str, emu: BotApiEmulator, framework: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHITONG_")}
    env.update({
        "PYTHONPATH": str(REPO),
        "ZHITONG_DATABASE_URL": url,
        "ZHITONG_BOT_TOKEN": emu.token,
        "ZHITONG_TELEGRAM_API": emu.base_url,
        "ZHITONG_FRAMEWORK": framework,
        # The emulator is not Telegram: no pacing, no rate limits for the run.
        "ZHITONG_SEND_PER_CHAT_INTERVAL": "0",
        "ZHITONG_SEND_GLOBAL_PER_SECOND": "100000",
        "ZHITONG_RATE_LIMIT_PER_MINUTE": "100000",
        # With no overall limit, enough pushes in flight to keep the network busy.
        "ZHITONG_SEND_CONCURRENCY": str(BENCH_SEND_CONCURRENCY),
    })
    return env


async def start_process(args: list[str], env: dict[str, str], log: Path) -> Any:
    with log.open("ab") as fh:
        return await asyncio.create_subprocess_exec(*args, env=env, cwd=REPO, stdout=fh,
                                                    stderr=fh)


async def stop_process(proc: Any, timeout: float = 15.0) -> None:
    if proc.returncode is not None:
        return
    import signal

    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


async def until(predicate: Callable[[], Any], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


async def outbox_pending(url: str) -> int:
    from sqlalchemy import text

    from storage.db import make_engine

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text(
                "SELECT count(*) FROM outbox WHERE status = 'pending'"))).scalar_one())
    finally:
        await engine.dispose()


# --- the echo bots (run as `load.py --echo-bot FRAMEWORK`) -------------------------------------


def run_echo_bot(framework: str) -> None:
    """ECHO_REPLIES=n: n messages per text (the echo itself last), so the bot makes as many Bot
    API requests per update as the report flow does — with no database and no logic."""
    token = os.environ["ECHO_TOKEN"]
    api = os.environ["ECHO_API"].rstrip("/")
    extra = int(os.environ.get("ECHO_REPLIES", "1")) - 1
    if framework == "ptb":
        from telegram import Update
        from telegram.ext import Application, ContextTypes, MessageHandler, filters

        async def echo_ptb(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
            if update.message is not None and update.message.text is not None:
                for i in range(extra):
                    await update.message.reply_text(f"{update.message.text} ·{i}")
                await update.message.reply_text(update.message.text)

        # PTB handles one update at a time by default; across a network that would make the
        # echo wait a round trip per message, so with --rtt-ms it handles them concurrently,
        # as aiogram's polling does by default, over as many connections as zhitong's PTB
        # runtime has (PTB's default pool of 256 costs httpcore more CPU per request than the
        # echo itself once many are open).
        builder = (Application.builder().token(token).base_url(f"{api}/bot")
                   .base_file_url(f"{api}/file/bot"))
        pool = 256  # PTB's default
        if os.environ.get("ECHO_CONCURRENT") == "1":
            pool = connections_for(BENCH_SEND_CONCURRENCY)
            builder = builder.concurrent_updates(True)
        if os.environ.get("ECHO_HTTP") == "aiohttp":
            # zhitong's PTB runtime sends over aiohttp (bot/ptb_request.py), not httpx.
            from bot.ptb_request import AiohttpRequest

            builder = (builder.request(AiohttpRequest(connections=pool))
                       .get_updates_request(AiohttpRequest(connections=1, read_timeout=30)))
        elif pool != 256:
            builder = builder.connection_pool_size(pool)
        app = builder.build()
        app.add_handler(MessageHandler(filters.TEXT, echo_ptb))
        app.run_polling(allowed_updates=["message"])
        return

    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import Message

    async def main() -> None:
        bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api)))
        dp = Dispatcher()

        @dp.message()
        async def echo_aiogram(message: Message) -> None:
            for i in range(extra):
                await message.answer(f"{message.text} ·{i}")
            await message.answer(message.text or "?")

        await dp.start_polling(bot, allowed_updates=["message"])

    asyncio.run(main())


def run_durable_echo_bot() -> None:
    """`zhitong run`'s own runtime and outbox with the desk replaced by a durable echo: each
    update is recorded and its echo enqueued in one transaction, acknowledged after that, and
    sent by the outbox sender — the floor of the at-least-once design, without any business."""
    from bot.app import build_core, install_stop_signals, run_aiogram
    from bot.settings import Settings
    from handlers import outmsg, texts
    from handlers.context import Ctx
    from handlers.inbound import Inbound, Outbound

    extra = int(os.environ.get("ECHO_REPLIES", "1")) - 1
    direct = int(os.environ.get("ECHO_DIRECT", "0"))

    class DurableEcho:
        def __init__(self, core: Any) -> None:
            self.core = core
            self.config = core.config
            self.http: Any = None
            self.send_url = (f"{core.settings.telegram_api.rstrip('/')}/bot"
                             f"{core.settings.bot_token}/sendMessage")

        async def reply_directly(self, chat_id: int, text: str) -> None:
            import aiohttp

            if self.http is None:
                self.http = aiohttp.ClientSession()
            async with self.http.post(self.send_url, data=json.dumps(
                    {"chat_id": chat_id, "text": text}, ensure_ascii=False),
                    headers={"Content-Type": "application/json"}) as resp:
                if not json.loads(await resp.read()).get("ok"):
                    raise RuntimeError(f"sendMessage refused: {resp.status}")

        async def handle(self, inb: Inbound, **_waiting: Any) -> Outbound:
            # `_waiting`: the adapters' on_delay / patience for an unreachable database (the
            # desk's own handling of outages; this stand-in just fails).
            now = self.core.clock.now()
            async with self.core.uow_factory() as uow:
                if not await uow.updates.mark(inb.update_id, now):
                    return Outbound(wake_sender=False)
                ctx = Ctx(uow, now, self.config, inb.update_id, inb.chat_id)
                for i in range(extra):
                    await ctx.reply(outmsg.send(texts.esc(f"{inb.text or '?'} ·{i}")))
                await ctx.reply(outmsg.send(texts.esc(inb.text or "?")))
                await uow.commit()
            for i in range(direct):
                await self.reply_directly(inb.chat_id, f"{inb.text or '?'} ·d{i}")
            return Outbound()

    async def main() -> None:
        settings = Settings()
        stop = asyncio.Event()
        install_stop_signals(stop)
        core = await build_core(settings, tagger=object(),  # type: ignore[arg-type]
                                register_plugins=False)
        core.desk = DurableEcho(core)  # type: ignore[assignment]
        try:
            if settings.framework == "ptb":
                from bot.ptb_adapter import run_ptb

                await run_ptb(core, stop, with_scheduler=False)
            else:
                await run_aiogram(core, stop, with_scheduler=False)
        finally:
            if core.desk.http is not None:
                await core.desk.http.close()
            await core.close()

    asyncio.run(main())


# --- measuring --------------------------------------------------------------------------------


@dataclass
class RunResult:
    framework: str
    backend: str
    kind: str  # "echo", "echo_n" (several replies each), "durable" (durable echo),
    # "durable_n" (the durable echo with several replies each), "durable_min" (the same with
    # all but one sent straight back) or "flow"
    users: int
    updates: int
    flows: int
    seconds: float
    latencies: dict[str, list[float]]
    bot_cpu: float
    api_calls: int = 0  # Bot API requests (getUpdates aside) during the measured stream
    errors: int = 0

    @property
    def calls_per_update(self) -> float:
        return self.api_calls / self.updates if self.updates else 0.0

    @property
    def updates_per_second(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0

    @property
    def flows_per_second(self) -> float:
        return self.flows / self.seconds if self.seconds else 0.0

    def all_replies(self) -> list[float]:
        if self.kind != "flow":
            return self.latencies["echo"]
        return self.latencies["card"] + self.latencies["receipt"]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k] * 1000


# At least this many echo messages (a shorter run measures mostly the echo bot's start and end);
# the test suite's smoke run lowers it with the hidden --min-echo.
MIN_ECHO = 2000


def echo_messages(flows: int) -> int:
    """As many echo messages as the flows have updates, and at least MIN_ECHO."""
    return max(2 * flows, MIN_ECHO)


def split(total: int, users: list[int]) -> Iterator[tuple[int, int]]:
    """(user, how many) so that the counts add up to `total`."""
    base, extra = divmod(total, len(users))
    for i, uid in enumerate(users):
        yield uid, base + (1 if i < extra else 0)


def is_echo_of(text: str) -> Callable[[Reply], bool]:
    return lambda r: r.text == text


def is_card_for(key: str) -> Callable[[Reply], bool]:
    """The confirmation card of report `key` (sent, with a 提交 button)."""
    return lambda r: (r.method == "sendMessage" and key in r.text
                      and any(SUBMIT in b["text"] for b in r.buttons()))


def is_receipt(r: Reply) -> bool:
    return r.method == "sendMessage" and RECEIPT in r.text


async def drive_echo(emu: WatchedEmulator, users: list[int], total: int,
                     first_k: int = 0) -> tuple[dict[str, list[float]], float]:
    lat: list[float] = []

    async def one_user(uid: int, count: int) -> None:
        index = len(emu.inbox(uid).replies)
        for k in range(first_k, first_k + count):
            text = f"回声 {uid} 第{k}条 〔u{uid}k{k}〕"
            t0 = time.perf_counter()
            emu.send_text(uid, text)
            reply, index = await emu.next_reply(uid, index, is_echo_of(text))
            lat.append(reply.at - t0)

    started = time.perf_counter()
    await asyncio.gather(*(one_user(uid, n) for uid, n in split(total, users)))
    return {"echo": lat}, time.perf_counter() - started


async def drive_flows(emu: WatchedEmulator, users: list[int], total: int,
                      first_k: int = 0) -> tuple[dict[str, list[float]], float]:
    """Each user files its share of `total` reports one after the other; all users at once."""
    lat: dict[str, list[float]] = {"card": [], "receipt": [], "official": [], "flow": []}

    async def one_user(uid: int, count: int) -> None:
        index = len(emu.inbox(uid).replies)
        for k in range(first_k, first_k + count):
            key = f"u{uid}k{k}"
            text = f"{REPORTS[(uid + k) % len(REPORTS)]}〔{key}〕"
            t0 = time.perf_counter()
            emu.send_text(uid, text)
            card, index = await emu.next_reply(uid, index, is_card_for(key))
            lat["card"].append(card.at - t0)
            label = next(b["text"] for b in card.buttons() if SUBMIT in b["text"])
            t1 = time.perf_counter()
            emu.press(uid, int(card.message["message_id"]), text=label)
            receipt, index = await emu.next_reply(uid, index, is_receipt)
            lat["receipt"].append(receipt.at - t1)
            official_at = await emu.official_card(key)
            lat["official"].append(official_at - t1)
            lat["flow"].append(max(official_at, receipt.at) - t0)

    started = time.perf_counter()
    await asyncio.gather(*(one_user(uid, n) for uid, n in split(total, users)))
    return lat, time.perf_counter() - started


async def _measure_echo(emu: WatchedEmulator, args: list[str], env: dict[str, str], log: Path,
                        users: int, messages: int
                        ) -> tuple[dict[str, list[float]], float, float, int]:
    """Start an echo-like bot, warm it up, drive `messages` echoes; (latencies, seconds, CPU s,
    Bot API requests)."""
    ids = enterprise_ids(users)
    for uid in ids:
        emu.add_user(uid, f"用户{uid}")
    proc = await start_process(args, env, log)
    try:
        await until(lambda: emu.waiting_polls > 0, 120, f"{log.stem} did not start polling")
        await drive_echo(emu, ids[: min(5, users)], 10)  # warm-up
        cpu0, calls0 = cpu_seconds(proc.pid), emu.api_calls
        lat, seconds = await drive_echo(emu, ids, messages, first_k=1000)
        return lat, seconds, cpu_seconds(proc.pid) - cpu0, emu.api_calls - calls0
    finally:
        await stop_process(proc)


async def run_echo(framework: str, users: int, messages: int, workdir: Path,
                   replies: int = 1, http: str = "default") -> RunResult:
    """`http="aiohttp"`: PTB over zhitong's HTTP client instead of PTB's default (httpx)."""
    async with watched(WatchedEmulator(token=TOKEN, username="echo_bench_bot", rtt=RTT)) as emu:
        env = {**os.environ, "ECHO_TOKEN": TOKEN, "ECHO_API": emu.base_url,
               "ECHO_REPLIES": str(replies), "PYTHONPATH": str(REPO),
               "ECHO_CONCURRENT": "1" if RTT > 0 else "0", "ECHO_HTTP": http}
        lat, seconds, cpu, calls = await _measure_echo(
            emu, [sys.executable, str(SCRIPT), "--echo-bot", framework], env,
            workdir / f"echo{replies}-{framework}-{http}.log", users, messages)
    kind = "echo_n" if replies > 1 else "echo" if http == "default" else "echo_http"
    return RunResult(framework, "-", kind, users, messages, 0, seconds, lat, cpu, calls)


async def run_durable_echo(framework: str, backend: str, users: int, messages: int,
                           workdir: Path, replies: int = 1, direct: int = 0) -> RunResult:
    """`replies` messages per text through the outbox, and `direct` more sent straight back."""
    name = (f"durable{replies if replies > 1 else ''}{f'd{direct}' if direct else ''}"
            f"-{framework}-{backend}")
    async with (fresh_database(backend, workdir) as url,
                watched(WatchedEmulator(token=TOKEN, username="durable_echo_bot", rtt=RTT)) as emu):
        profile = ["-m", "cProfile", "-o", str(PROFILE_DIR / f"{name}.prof")] if PROFILE_DIR else []
        env = {**bot_env(url, emu, framework), "ECHO_REPLIES": str(replies),
               "ECHO_DIRECT": str(direct)}
        lat, seconds, cpu, calls = await _measure_echo(
            emu, [sys.executable, *profile, str(SCRIPT), "--durable-echo"], env,
            workdir / f"{name}.log", users, messages)
    kind = "durable_min" if direct else "durable_n" if replies > 1 else "durable"
    return RunResult(framework, backend, kind, users, messages, 0, seconds, lat, cpu, calls)


async def run_flows(framework: str, backend: str, users: int, flows: int,
                    workdir: Path) -> RunResult:
    doc = org_document(users)
    async with fresh_database(backend, workdir) as url:
        await load_org(url, doc, workdir)
        async with watched(WatchedEmulator(token=TOKEN, username="zhitong_bench_bot", rtt=RTT)) as emu:
            people = people_of(doc)
            for uid, name in people.items():
                emu.add_user(uid, name)
            emu.official_chats = {uid for uid in people if uid >= OFFICIAL_BASE}
            profile = ["-m", "cProfile", "-o", str(PROFILE_DIR / f"{framework}-{backend}.prof")
                       ] if PROFILE_DIR else []
            proc = await start_process(
                [sys.executable, *profile, "-m", "bot.cli", "run", "--no-scheduler"],
                bot_env(url, emu, framework), workdir / f"zhitong-{framework}-{backend}.log")
            try:
                await until(lambda: emu.waiting_polls > 0, 120, "zhitong did not start polling")
                await until(lambda: _zero(outbox_pending(url)), 120, "menus not sent")
                ids = enterprise_ids(users)
                await drive_flows(emu, ids[: min(5, users)], min(5, users))  # warm-up
                cpu0, calls0 = cpu_seconds(proc.pid), emu.api_calls
                lat, seconds = await drive_flows(emu, ids, flows, first_k=1000)
                cpu, calls = cpu_seconds(proc.pid) - cpu0, emu.api_calls - calls0
            finally:
                await stop_process(proc)
    return RunResult(framework, backend, "flow", users, 2 * flows, flows, seconds, lat, cpu,
                     calls)


async def _zero(pending: Any) -> bool:
    return bool(await pending == 0)


# --- report -----------------------------------------------------------------------------------


def print_table(results: list[RunResult], args: argparse.Namespace) -> None:
    print()
    print("Zhitong load benchmark — emulator in-process, bots as subprocesses (polling)")
    print(f"flows N={args.flows}, users U={args.users}; echo: {echo_messages(args.flows)} messages; "
          f"CPUs: {os.cpu_count()}; Python {sys.version.split()[0]}")
    print("Run settings (the emulator is not Telegram): ZHITONG_SEND_PER_CHAT_INTERVAL=0, "
          "ZHITONG_SEND_GLOBAL_PER_SECOND=100000, ZHITONG_RATE_LIMIT_PER_MINUTE=100000, "
          f"ZHITONG_SEND_CONCURRENCY={BENCH_SEND_CONCURRENCY}, "
          "--no-scheduler")
    print(f"Network round trip per Bot API call (--rtt-ms): {RTT * 1000:g} ms"
          + ("" if RTT else " (loopback: the bots are CPU-bound)"))
    print()
    head = (f"{'runtime':8} {'database':9} {'bot':10} {'updates':>7} {'sec':>7} "
            f"{'upd/s':>7} {'flows/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
            f"{'botCPU s':>8} {'CPU ms/upd':>10} {'req/upd':>7} {'CPU ms/req':>10}")
    print(head)
    print("-" * len(head))
    for r in results:
        replies = r.all_replies()
        label = {"echo": "echo", "durable": "dur. echo", "echo_http": "echo aiohttp",
                 "echo_n": f"echo ×{round(r.calls_per_update)}",
                 "durable_n": f"dur. ×{round(r.calls_per_update)}",
                 "durable_min": "dur. min"}.get(r.kind, "full flow")
        print(f"{r.framework:8} {r.backend:9} {label:10} "
              f"{r.updates:7d} {r.seconds:7.1f} {r.updates_per_second:7.1f} "
              f"{(r.flows_per_second if r.kind == 'flow' else float('nan')):7.1f} "
              f"{pct(replies, 50):7.0f} {pct(replies, 95):7.0f} {pct(replies, 99):7.0f} "
              f"{r.bot_cpu:8.1f} {1000 * r.bot_cpu / max(1, r.updates):10.2f} "
              f"{r.calls_per_update:7.2f} {1000 * r.bot_cpu / max(1, r.api_calls):10.2f}")
    print()
    print("Full-flow latencies by step (ms): p50 / p95 / p99")
    for r in results:
        if r.kind != "flow":
            continue
        parts = []
        for name in ("card", "receipt", "official", "flow"):
            v = r.latencies[name]
            parts.append(f"{name} {pct(v, 50):.0f}/{pct(v, 95):.0f}/{pct(v, 99):.0f}")
        print(f"  {r.framework:8} {r.backend:9} " + "   ".join(parts))
    print()
    print("Full flow vs echo (updates answered per second; target >= 0.50):")
    for fw in args.frameworks:
        echo = next((r for r in results if r.kind == "echo" and r.framework == fw), None)
        for r in results:
            if r.kind != "flow" or r.framework != fw or echo is None:
                continue
            ratio = r.updates_per_second / echo.updates_per_second
            strict = r.flows_per_second / echo.updates_per_second
            fast = next((e for e in results if e.kind == "echo_http" and e.framework == fw),
                        None)
            also = (f"; vs the echo over aiohttp, as zhitong's PTB runtime sends: "
                    f"{r.updates_per_second / fast.updates_per_second:.2f}" if fast else "")
            print(f"  {fw:8} {r.backend:9} {ratio:5.2f}  {'OK' if ratio >= 0.5 else 'BELOW'}"
                  f"   (flows/s ÷ echo msgs/s: {strict:.2f}{also})")
        matched = next((r for r in results if r.kind == "echo_n" and r.framework == fw), None)
        if matched is not None and echo is not None:
            print(f"  {fw:8} ceiling: an echo bot making the flow's {FLOW_REQUESTS} requests per "
                  f"update (no database, no logic"
                  f"{', over aiohttp' if fw == 'ptb' else ''}) reaches "
                  f"{matched.updates_per_second / echo.updates_per_second:.2f} of the echo")
    print()
    print("For reference — the durable echo (the same runtime, update recorded and echo sent "
          "through the outbox, no business logic) vs echo, and the full flow vs the durable echo:")
    for fw in args.frameworks:
        echo = next((r for r in results if r.kind == "echo" and r.framework == fw), None)
        for r in results:
            if r.kind != "durable" or r.framework != fw or echo is None:
                continue
            flow = next((f for f in results if f.kind == "flow" and f.framework == fw
                         and f.backend == r.backend), None)
            vs_flow = (f"   full flow ÷ durable echo: "
                       f"{flow.updates_per_second / r.updates_per_second:.2f}" if flow else "")
            print(f"  {fw:8} {r.backend:9} durable echo ÷ echo: "
                  f"{r.updates_per_second / echo.updates_per_second:.2f}{vs_flow}")
            fast = next((e for e in results if e.kind == "echo_http" and e.framework == fw),
                        None)
            for kind, what in (("durable_n", f"durable echo with the flow's {FLOW_REQUESTS} "
                                "requests per update, all through the outbox (as zhitong "
                                "sends; the design's ceiling for the flow, no business)"),
                               ("durable_min", "the same, two sent straight back (the "
                                "cheapest form DESIGN §10 allows; no business)")):
                ceiling = next((d for d in results if d.kind == kind and d.framework == fw
                                and d.backend == r.backend), None)
                if ceiling is None:
                    continue
                also = (f"; ÷ the echo over aiohttp: "
                        f"{ceiling.updates_per_second / fast.updates_per_second:.2f}"
                        if fast else "")
                print(f"  {fw:8} {r.backend:9} {what} ÷ echo: "
                      f"{ceiling.updates_per_second / echo.updates_per_second:.2f}{also}")
    print()
    print("card = text → confirmation card; receipt = press 提交 → 诉求编号 message; official = "
          "press → card at the unit's officials; flow = text → both. A flow is 2 updates.")
    print("req/upd = Bot API requests the bot made per update (getUpdates aside): the echo answers "
          "with one, the report flow with about three (card; then toast, card edit, receipt and "
          "one card per official of the unit). CPU ms/req = the bot's CPU per request.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flows", type=int, default=1000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--frameworks", default="aiogram,ptb")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    parser.add_argument("--profile", type=Path, default=None,
                        help="run zhitong (and the durable echo) under cProfile; DIR/<runtime>-<db>.prof")
    parser.add_argument("--no-durable-echo", action="store_true",
                        help="skip the durable-echo reference runs")
    parser.add_argument("--no-matched-echo", dest="matched_echo", action="store_false",
                        help="skip the echo bot that answers with as many messages per update "
                             "as the report flow makes Bot API requests")
    parser.add_argument("--rtt-ms", type=float, default=0.0, metavar="MS",
                        help="network round trip the emulator adds to every Bot API call "
                             "(default 0: loopback; Telegram from a server is tens to hundreds)")
    parser.add_argument("--echo-bot", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--durable-echo", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--min-echo", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    global PROFILE_DIR, RTT, MIN_ECHO
    if args.min_echo is not None:
        MIN_ECHO = args.min_echo
    if args.rtt_ms < 0:
        parser.error("--rtt-ms must not be negative")
    RTT = args.rtt_ms / 1000
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        PROFILE_DIR = args.profile.resolve()
    if args.echo_bot:
        run_echo_bot(args.echo_bot)
        return
    if args.durable_echo:
        run_durable_echo_bot()
        return
    args.frameworks = [f for f in args.frameworks.split(",") if f]
    backends = [b for b in args.backends.split(",") if b]
    if "postgres" in backends:
        reason = postgres_reachable()
        if reason:
            print(f"PostgreSQL not reachable ({reason}); running SQLite only", file=sys.stderr)
            backends = [b for b in backends if b != "postgres"]
    results = asyncio.run(_run_all(args, backends))
    print_table(results, args)
    if args.json:
        print(json.dumps([{
            "framework": r.framework, "database": r.backend, "bot": r.kind,
            "updates": r.updates, "seconds": round(r.seconds, 3),
            "updates_per_second": round(r.updates_per_second, 2),
            "flows_per_second": round(r.flows_per_second, 2),
            "p50_ms": round(pct(r.all_replies(), 50), 1),
            "p95_ms": round(pct(r.all_replies(), 95), 1),
            "p99_ms": round(pct(r.all_replies(), 99), 1),
            "bot_cpu_seconds": round(r.bot_cpu, 2),
            "bot_api_requests": r.api_calls,
        } for r in results], ensure_ascii=False, indent=2))


def print_log_tails(workdir: Path) -> None:
    for log in sorted(workdir.glob("*.log")):
        print(f"--- {log.name} (tail)", file=sys.stderr)
        print("\n".join(log.read_text(errors="replace").splitlines()[-30:]), file=sys.stderr)


async def _run_all(args: argparse.Namespace, backends: list[str]) -> list[RunResult]:
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix="zhitong-load-") as tmp:
        workdir = Path(tmp)
        for fw in args.frameworks:
            print(f"[{fw}] echo bot: {echo_messages(args.flows)} messages from {args.users} users …",
                  file=sys.stderr, flush=True)
            results.append(await run_echo(fw, args.users, echo_messages(args.flows), workdir))
            http = "aiohttp" if fw == "ptb" else "default"  # as zhitong's runtime talks HTTP
            if http != "default":
                print(f"[{fw}] echo bot over {http} …", file=sys.stderr, flush=True)
                results.append(await run_echo(fw, args.users, echo_messages(args.flows), workdir,
                                              http=http))
            if args.matched_echo:
                print(f"[{fw}] echo bot with {FLOW_REQUESTS} replies per message …",
                      file=sys.stderr, flush=True)
                results.append(await run_echo(fw, args.users, echo_messages(args.flows), workdir,
                                              replies=FLOW_REQUESTS, http=http))
            for backend in backends:
                if not args.no_durable_echo:
                    print(f"[{fw}] durable echo on {backend}: {echo_messages(args.flows)} "
                          "messages …",
                          file=sys.stderr, flush=True)
                    try:
                        results.append(await run_durable_echo(fw, backend, args.users,
                                                              echo_messages(args.flows),
                                                              workdir))
                        print(f"[{fw}] durable echo with {FLOW_REQUESTS} replies per message on "
                              f"{backend} …", file=sys.stderr, flush=True)
                        results.append(await run_durable_echo(fw, backend, args.users,
                                                              echo_messages(args.flows),
                                                              workdir, replies=FLOW_REQUESTS))
                        print(f"[{fw}] durable echo, {FLOW_REQUESTS - 1} of its replies sent "
                              f"straight back, on {backend} …", file=sys.stderr, flush=True)
                        results.append(await run_durable_echo(fw, backend, args.users,
                                                              echo_messages(args.flows),
                                                              workdir,
                                                              direct=FLOW_REQUESTS - 1))
                    except Exception:
                        print_log_tails(workdir)
                        raise
                print(f"[{fw}] zhitong on {backend}: {args.flows} report flows …",
                      file=sys.stderr, flush=True)
                try:
                    results.append(await run_flows(fw, backend, args.users, args.flows,
                                                   workdir))
                except Exception:
                    print_log_tails(workdir)
                    raise
    return results


if __name__ == "__main__":
    main()
