"""Fault benchmark (not a test): kill -9 the bot again and again during a stream of reports.

`zhitong run` runs as a subprocess against the Bot API emulator in this process. U enterprise
users file R reports (text → card → press 提交; default 1,000 reports from 50 users) while the
handling units' officials press 受理 on every other new ticket (both officials of a unit press,
so half of those presses must be refused as "already done"). Meanwhile the bot is killed with
SIGKILL at random moments (1–4 s by default after the previous restart announced itself:
start-up — imports, aiogram's ~440 pydantic types, the tagger — takes a few seconds, and kills
that only ever hit start-up would test nothing else) and restarted at once. The stream of 1,000
reports now takes about a minute, so the interval is short enough for a dozen kills in it.

Two set-ups are run:

* **SQLite, one polling process** — killed and restarted; the emulator hands unconfirmed
  updates out again to the new process.
* **PostgreSQL, two webhook workers** behind a tiny round-robin proxy written here (standing in
  for nginx: the emulator knows one webhook URL, the proxy spreads the POSTs over the two
  workers and, like `proxy_next_upstream error`, tries the other worker when one refuses the
  connection). One worker at a time, chosen at random, is killed and restarted; the other goes
  on serving, claims the outbox with SKIP LOCKED, and takes over the scheduler lock. Polling is
  not used for two processes: Telegram (and the emulator) end an older long poll when a newer one
  arrives (409 Conflict), so two pollers on one token fight instead of sharing the work.

With `--cut-db-every MIN,MAX` the PostgreSQL set-up also loses its database now and then: the
workers reach it through a TCP relay in this process that, at random moments, drops every open
connection and refuses new ones for `--cut-db-for MIN,MAX` seconds — a database restart or
fail-over as the workers see it. Updates arriving meanwhile must wait (their people told once),
not be lost or answered with an error.

With `--slow-sends MIN,MAX` Telegram now and then answers slowly: at random moments the next
few sendMessage calls (`--slow-count`, default 3) are answered `--slow-for` seconds late
(default 8, longer than the run's 5 s outbox lease; an upload over a slow line). A message
must still go out once: the worker sending it keeps its lease. `--kill-every 0` turns the kills
off, so that every duplicate counts against the run.

Afterwards, with the last instance left to drain the outbox, it checks and prints:

1. every report is a ticket exactly once (tickets counted per report text);
2. every outbox message went out once: emulator sendMessage deliveries counted per chat and text
   against the outbox rows. A duplicate is only allowed from the documented at-least-once
   window — the process died after Telegram accepted a message and before the row was marked
   sent — so each duplicate is checked to have a kill between its two deliveries;
2a. each chat's messages went out in order: none was delivered before an earlier one (a lower
   outbox id, made by an update applied at least ORDER_APART = 1 s before) to the same chat,
   except an urgent one ahead of queued others (by design);
3. the audit log agrees with the tickets: replaying each ticket's events (from → to) ends in the
   ticket's status, with no broken chain, one submit per ticket, at most one accept.

    .venv/bin/python benchmarks/faults.py                         # both set-ups, aiogram
    .venv/bin/python benchmarks/faults.py --framework ptb --reports 300
    .venv/bin/python benchmarks/faults.py --setups sqlite --kill-every 2,8
    .venv/bin/python benchmarks/faults.py --setups postgres --cut-db-every 4,10
    .venv/bin/python benchmarks/faults.py --setups postgres --kill-every 0 --slow-sends 2,5

Rate limits are lifted and per-chat pacing is 0 for the run (the emulator is not Telegram);
the outbox lease is 5 s so a killed sender's messages come back quickly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import random
import signal
import socket
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from aiohttp import web
from load import (
    MARK,
    OFFICIAL_BASE,
    REPO,
    REPORTS,
    Reply,
    WatchedEmulator,
    bot_env,
    enterprise_ids,
    fresh_database,
    load_org,
    org_document,
    outbox_pending,
    pct,
    people_of,
    postgres_reachable,
    print_log_tails,
    stop_process,
    until,
)

from bot.emulator import parse_html
from handlers.texts import STORE_WAIT, SYSTEM_ERROR
from tests.tcp_relay import TcpRelay, relay_database

TOKEN = "535353:FAULT-BENCH-TOKEN"
SECRET = "fault-bench-secret_0123456789"
SUBMIT = "提交"
ACCEPT = "受理"
SUBMITTED = "已提交"
ZHITONG = [sys.executable, "-m", "bot.cli", "run"]
# Two messages to a chat made by updates applied at least this far apart must go out in that
# order (closer than this, two workers may commit them in either order).
ORDER_APART = 1.0
STARTED_BANNER = "项目直通车已启动"  # the start of bot.texts.RUN_STARTED
# How long after a kill a request the killed process had already written may still be handled
# (and time-stamped) by the emulator.
IN_FLIGHT = 0.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the emulator, with officials that press 受理 -------------------------------------------------


class FaultEmulator(WatchedEmulator):
    """Queues every new official card (a sendMessage with 受理) for the officials' presser."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.new_cards: asyncio.Queue[tuple[int, Reply]] = asyncio.Queue()

    def _record(self, method: str, params: dict[str, Any], **kwargs: Any) -> Any:
        rec = super()._record(method, params, **kwargs)
        if method == "sendMessage" and rec.status == 200:
            result = (rec.response or {}).get("result") or {}
            chat_id = int(result.get("chat", {}).get("id", 0))
            if chat_id in self.official_chats:
                reply = Reply(method, time.perf_counter(), result)
                if any(ACCEPT in b["text"] for b in reply.buttons()):
                    self.new_cards.put_nowait((chat_id, reply))
        return rec


# --- processes: one poller, or two webhook workers behind a proxy ------------------------------


class RoundRobinProxy:
    """The reverse proxy in front of the webhook workers (nginx's job in production)."""

    def __init__(self, port: int, path: str, upstreams: list[str]) -> None:
        self.port = port
        self.path = path
        self.upstreams = upstreams
        self._next = itertools.cycle(range(len(upstreams)))
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.forwarded = Counter[str]()
        self.refused = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(self.path, self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._http = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        assert self._http is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() in ("content-type", "x-telegram-bot-api-secret-token")}
        for _ in range(len(self.upstreams)):
            upstream = self.upstreams[next(self._next)]
            try:
                async with self._http.post(upstream, data=body, headers=headers,
                                           timeout=aiohttp.ClientTimeout(total=30)) as resp:
                    payload = await resp.read()
                    self.forwarded[upstream] += 1
                    return web.Response(status=resp.status, body=payload,
                                        content_type=resp.content_type)
            except aiohttp.ClientConnectorError:
                self.refused += 1
                continue  # not running: the request never reached it, try the next one
            except (aiohttp.ClientError, TimeoutError):
                # It took the request and died: we cannot know whether it was applied; the
                # sender (Telegram) delivers it again, and the update id makes that harmless.
                return web.Response(status=502, text="bad gateway")
        return web.Response(status=502, text="no upstream")


@dataclass
class Worker:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    proc: Any = None
    starts: int = 0

    async def start(self) -> None:
        with self.log.open("ab") as fh:
            self.proc = await asyncio.create_subprocess_exec(*self.args, env=self.env, cwd=REPO,
                                                             stdout=fh, stderr=fh)
        self.starts += 1

    def banners(self) -> int:
        """How many times this worker announced it started (`zhitong run`'s start line)."""
        try:
            return self.log.read_text(errors="replace").count(STARTED_BANNER)
        except OSError:
            return 0

    async def until_started(self, timeout: float = 120.0) -> float:
        """Wait until the latest start has announced itself; returns the seconds it took."""
        t0 = time.perf_counter()
        await until(lambda: self.banners() >= self.starts, timeout,
                    f"{self.name} did not start")
        return time.perf_counter() - t0

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None:
            await stop_process(self.proc)


# --- the stream --------------------------------------------------------------------------------


@dataclass
class Stream:
    reports_sent: set[str] = field(default_factory=set)
    submitted: set[str] = field(default_factory=set)
    confirmed: set[str] = field(default_factory=set)
    accept_presses: int = 0
    lost: list[str] = field(default_factory=list)
    card_latency: list[float] = field(default_factory=list)
    submit_latency: list[float] = field(default_factory=list)
    kills: list[float] = field(default_factory=list)  # emulator clock (time.time)
    startups: list[float] = field(default_factory=list)  # seconds from restart to start line
    cuts: list[tuple[float, float]] = field(default_factory=list)  # database cut, from–to
    slow_spells: int = 0
    slow_calls: int = 0  # sendMessage calls answered late
    # How long after a kill a request the killed process had written may still be applied.
    in_flight: float = IN_FLIGHT
    done: asyncio.Event = field(default_factory=asyncio.Event)


def is_card(key: str) -> Any:
    return lambda r: (r.method == "sendMessage" and key in r.text
                      and any(SUBMIT in b["text"] for b in r.buttons()))


def is_submitted(key: str) -> Any:
    return lambda r: r.method == "editMessageText" and key in r.text and SUBMITTED in r.text


async def reporter(emu: FaultEmulator, st: Stream, uid: int, count: int,
                   timeout: float) -> None:
    for k in range(count):
        key = f"u{uid}k{k}"
        text = f"{REPORTS[(uid + k) % len(REPORTS)]}〔{key}〕"
        st.reports_sent.add(key)
        t0 = time.perf_counter()
        emu.send_text(uid, text)
        try:
            card, _ = await emu.next_reply(uid, 0, is_card(key), timeout)
        except TimeoutError:
            st.lost.append(f"{key}: no card")
            continue
        st.card_latency.append(card.at - t0)
        label = next(b["text"] for b in card.buttons() if SUBMIT in b["text"])
        t1 = time.perf_counter()
        emu.press(uid, int(card.message["message_id"]), text=label)
        st.submitted.add(key)
        try:
            edit, _ = await emu.next_reply(uid, 0, is_submitted(key), timeout)
        except TimeoutError:
            st.lost.append(f"{key}: no confirmation after 提交")
            continue
        st.confirmed.add(key)
        st.submit_latency.append(edit.at - t1)


async def officials(emu: FaultEmulator, st: Stream) -> None:
    """Both officials of the unit press 受理 on every other new ticket card."""
    pressed: set[tuple[int, int]] = set()
    while True:
        chat_id, card = await emu.new_cards.get()
        m = MARK.search(card.text)
        if m is None or int(m.group(2)) % 2:
            continue
        mid = int(card.message["message_id"])
        if (chat_id, mid) in pressed:
            continue
        pressed.add((chat_id, mid))
        data = next(b["callback_data"] for b in card.buttons() if ACCEPT in b["text"])
        emu.press(chat_id, mid, data, strict=False)
        st.accept_presses += 1


async def killer(workers: list[Worker], st: Stream, every: tuple[float, float],
                 rng: random.Random) -> None:
    while not st.done.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(st.done.wait(), rng.uniform(*every))
        if st.done.is_set():
            return
        victim = rng.choice(workers)
        st.kills.append(time.time())
        await victim.kill()
        await victim.start()
        # The next interval counts from when the new process is up: a kill during start-up
        # (imports, the tagger) would only ever test start-up.
        st.startups.append(await victim.until_started())


async def cutter(relay: TcpRelay, st: Stream, every: tuple[float, float],
                 length: tuple[float, float], rng: random.Random) -> None:
    """Cut the workers off their database at random moments, for a random while."""
    while not st.done.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(st.done.wait(), rng.uniform(*every))
        if st.done.is_set():
            return
        began = time.time()
        relay.cut()
        await asyncio.sleep(rng.uniform(*length))
        relay.restore()
        st.cuts.append((began, time.time()))


async def slower(emu: FaultEmulator, st: Stream, every: tuple[float, float], seconds: float,
                 count: int, rng: random.Random) -> None:
    """Now and then make Telegram answer the next few sendMessage calls late. A spell begins
    only once the last one's calls have come (spells piling up would slow every send), and
    ends with the stream."""
    while not st.done.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(st.done.wait(), rng.uniform(*every))
        if st.done.is_set():
            break
        if not emu.faults_waiting():
            emu.delay_next("sendMessage", seconds, count=count)
            st.slow_spells += 1
    st.slow_calls = st.slow_spells * count - emu.faults_waiting()
    emu.clear_faults()


# --- checks ------------------------------------------------------------------------------------


@dataclass
class Figures:
    setup: str
    framework: str
    reports: int = 0
    submitted: int = 0
    lost: int = 0
    kills: int = 0
    startup_median: float = float("nan")  # seconds from a restart to its start line
    starts: int = 0
    updates_issued: int = 0
    updates_applied: int = 0
    updates_redelivered: int = 0
    tickets: int = 0
    tickets_once: int = 0
    tickets_missing: int = 0
    tickets_duplicated: int = 0
    tickets_unexpected: int = 0
    accept_presses: int = 0
    accepted_tickets: int = 0
    multi_accept: int = 0
    outbox_sent: int = 0
    outbox_failed: int = 0
    outbox_pending: int = 0
    deliveries: int = 0
    checked_rows: int = 0
    sent_once: int = 0
    sent_missing: int = 0
    duplicated_keys: int = 0
    extra_deliveries: int = 0
    duplicates_explained: int = 0
    order_checked: int = 0
    order_overtakes: int = 0
    order_notes: list[str] = field(default_factory=list)
    replayed: int = 0
    replay_agrees: int = 0
    replay_disagrees: int = 0
    broken_chains: int = 0
    bad_submits: int = 0
    leadership_acquired: int = 0
    cuts: int = 0
    cut_seconds: float = 0.0
    cut_refused: int = 0
    slow_spells: int = 0
    slow_calls: int = 0
    slow_for: float = 0.0
    told_to_wait: int = 0
    system_errors: int = 0
    card_latency: list[float] = field(default_factory=list)
    submit_latency: list[float] = field(default_factory=list)
    seconds: float = 0.0
    drain_seconds: float = 0.0  # of `seconds`: after the stream, until all was applied and sent
    notes: list[str] = field(default_factory=list)


async def check(url: str, emu: FaultEmulator, st: Stream, fig: Figures) -> None:
    from sqlalchemy import select

    from storage.db import make_engine
    from storage.models import OutboxMessage, ProcessedUpdate, Ticket, TicketEvent

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            tickets = (await conn.execute(select(Ticket.id, Ticket.text, Ticket.status))).all()
            events = (await conn.execute(select(
                TicketEvent.ticket_id, TicketEvent.action, TicketEvent.from_status,
                TicketEvent.to_status).order_by(TicketEvent.id))).all()
            outbox = (await conn.execute(select(
                OutboxMessage.id, OutboxMessage.chat_id, OutboxMessage.payload,
                OutboxMessage.status, OutboxMessage.urgent, OutboxMessage.created_at))).all()
            applied = set((await conn.execute(select(ProcessedUpdate.update_id))).scalars())
    finally:
        await engine.dispose()

    # 1. every report a ticket, exactly once.
    per_key = Counter[str]()
    for _tid, text, _status in tickets:
        m = MARK.search(text)
        per_key[f"u{m.group(1)}k{m.group(2)}" if m else f"?{text[:20]}"] += 1
    fig.tickets = len(tickets)
    fig.tickets_once = sum(1 for k in st.submitted if per_key[k] == 1)
    fig.tickets_missing = sum(1 for k in st.submitted if per_key[k] == 0)
    fig.tickets_duplicated = sum(1 for k in st.submitted if per_key[k] > 1)
    fig.tickets_unexpected = sum(n for k, n in per_key.items() if k not in st.submitted)

    # Updates: every one the emulator issued was applied (recorded with its effect).
    issued = set(emu._issued)
    fig.updates_issued = len(issued)
    fig.updates_applied = len(issued & applied)
    handed_out = Counter[int]()
    for req in emu.requests_for("getUpdates"):
        for upd in (req.response or {}).get("result") or []:
            handed_out[int(upd["update_id"])] += 1
    for d in emu.webhook_deliveries:
        handed_out[int(d["update_id"])] += 1
    fig.updates_redelivered = sum(1 for n in handed_out.values() if n > 1)

    # 2. outbox rows against what the emulator actually received.
    expected = Counter[tuple[int, str]]()
    rows_of_chats: dict[int, list[tuple[int, bool, str, float]]] = defaultdict(list)
    for row_id, chat_id, payload, status, urgent, created_at in outbox:
        if status == "sent":
            fig.outbox_sent += 1
        elif status == "failed":
            fig.outbox_failed += 1
        else:
            fig.outbox_pending += 1
        if payload.get("op", "send") != "send" or payload.get("photos") or payload.get(
                "document") or status != "sent":
            continue
        text, _ = parse_html(str(payload.get("text", "")))
        expected[(int(chat_id), text)] += 1
        rows_of_chats[int(chat_id)].append((int(row_id), bool(urgent), text,
                                            _utc(created_at).timestamp()))
        fig.checked_rows += 1
    delivered: dict[tuple[int, str], list[float]] = defaultdict(list)
    for req in emu.requests_for("sendMessage"):
        if req.status != 200:
            continue
        result = (req.response or {}).get("result") or {}
        key = (int(result.get("chat", {}).get("id", 0)), str(result.get("text", "")))
        fig.told_to_wait += key[1] == STORE_WAIT
        fig.system_errors += key[1] == SYSTEM_ERROR
        if key in expected:
            delivered[key].append(req.time)
    for key, rows in expected.items():
        times = sorted(delivered.get(key, []))
        fig.deliveries += len(times)
        if len(times) < rows:
            fig.sent_missing += rows - len(times)
        elif len(times) == rows:
            fig.sent_once += rows
        else:
            fig.sent_once += rows
            fig.duplicated_keys += 1
            fig.extra_deliveries += len(times) - rows
            # At-least-once window: a kill fell between the first and the last delivery. The
            # emulator stamps a request when it handles it, so a request the killed process had
            # already written can be stamped after the kill: allow IN_FLIGHT seconds, and with
            # slow answers their delay as well.
            if any(times[0] - st.in_flight <= k <= times[-1] for k in st.kills):
                fig.duplicates_explained += 1
            else:
                nearest = min(st.kills, key=lambda k: abs(k - times[0]), default=None)
                where = ("no kill" if nearest is None else
                         f"nearest kill {1000 * (nearest - times[0]):+.0f} ms from the first")
                gaps = ", ".join(f"{1000 * (t - times[0]):.0f}" for t in times[1:])
                fig.notes.append(f"unexplained duplicate to {key[0]}: {key[1][:50]!r} "
                                 f"(again after {gaps} ms; {where})")

    check_order(rows_of_chats, expected, delivered, fig)

    # 3. the audit log replayed against the tickets.
    by_ticket: dict[int, list[tuple[str, str | None, str | None]]] = defaultdict(list)
    for ticket_id, action, frm, to in events:
        by_ticket[int(ticket_id)].append((str(action), frm, to))
    for tid, _text, status in tickets:
        chain = by_ticket.get(int(tid), [])
        fig.replayed += 1
        state: str | None = None
        broken = False
        for _action, frm, to in chain:
            if frm is not None and state is not None and frm != state:
                broken = True
            if to is not None:
                state = to
        actions = Counter(a for a, _, _ in chain)
        if actions["submit"] != 1 or (chain and chain[0][0] != "submit"):
            fig.bad_submits += 1
        if actions["accept"] == 1:
            fig.accepted_tickets += 1
        elif actions["accept"] > 1:
            fig.multi_accept += 1
        fig.broken_chains += broken
        if state == status:
            fig.replay_agrees += 1
        else:
            fig.replay_disagrees += 1
            fig.notes.append(f"ticket {tid}: events end in {state}, ticket says {status}")


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_order(rows_of_chats: dict[int, list[tuple[int, bool, str, float]]],
                expected: Counter[tuple[int, str]],
                delivered: dict[tuple[int, str], list[float]], fig: Figures) -> None:
    """Order per chat: a message whose first delivery came before that of an earlier one to
    the same chat overtook it, unless it is urgent and the earlier one is not (replies and
    urgent cards go ahead of queued reminders by design). "Earlier" means made by an update
    applied at least ORDER_APART seconds before: two updates applied at the same moment on
    two workers have no order (their rows' ids come in insert order, their commits in any).
    Messages whose text another message to the chat shares are left out (which delivery is
    whose cannot be told)."""
    for chat_id, rows in rows_of_chats.items():
        firsts = []
        for _row_id, urgent, text, made in sorted(rows):
            times = delivered.get((chat_id, text))
            if expected[(chat_id, text)] == 1 and times:
                firsts.append((made, urgent, min(times), text))
        fig.order_checked += len(firsts)
        for i, (b_made, b_urgent, b_time, b_text) in enumerate(firsts):
            ahead_of = [a for a in firsts[:i] if a[2] > b_time and (a[1] or not b_urgent)
                        and a[0] <= b_made - ORDER_APART]
            if ahead_of:
                fig.order_overtakes += 1
                fig.order_notes.append(
                    f"to {chat_id}: {b_text[:40]!r} went out "
                    f"{1000 * (ahead_of[0][2] - b_time):.0f} ms before the earlier "
                    f"{ahead_of[0][3][:40]!r}")


# --- one set-up ---------------------------------------------------------------------------------


async def run_setup(setup: str, framework: str, args: argparse.Namespace,
                    workdir: Path) -> Figures:
    rng = random.Random(args.seed)
    fig = Figures(setup, framework)
    backend = "sqlite" if setup == "sqlite" else "postgres"
    doc = org_document(args.users)
    async with fresh_database(backend, workdir) as url:
        await load_org(url, doc, workdir)
        emu = FaultEmulator(token=TOKEN, username="zhitong_fault_bot", webhook_retry_delay=0.1,
                            webhook_retry_max_delay=1.0)
        await emu.start()
        proxy: RoundRobinProxy | None = None
        workers: list[Worker] = []
        st = Stream()
        if args.slow_sends:
            st.in_flight += args.slow_for
        try:
            people = people_of(doc)
            for uid, name in people.items():
                emu.add_user(uid, name)
            emu.official_chats = {uid for uid in people if uid >= OFFICIAL_BASE}
            relay: TcpRelay | None = None
            worker_url = url
            if setup != "sqlite" and args.cut_db_every:
                relay, worker_url = await relay_database(url)
            env = bot_env(worker_url, emu, framework)
            env.update({"ZHITONG_OUTBOX_LEASE_SECONDS": "5",
                        "ZHITONG_SWEEP_INTERVAL_SECONDS": "5",
                        "ZHITONG_WEBHOOK_SECRET": SECRET})
            if setup == "sqlite":
                workers.append(Worker("poller", [*ZHITONG], env, workdir / "poller.log"))
            else:
                ports = [free_port() for _ in range(2)]
                proxy = RoundRobinProxy(free_port(), "/telegram/webhook",
                                        [f"http://127.0.0.1:{p}/telegram/webhook"
                                         for p in ports])
                await proxy.start()
                for i, port in enumerate(ports):
                    extra = [] if i == 0 else ["--no-set-webhook"]
                    workers.append(Worker(
                        f"worker{i + 1}", [*ZHITONG, "--webhook", proxy.url, "--listen",
                                           f"127.0.0.1:{port}", *extra],
                        env, workdir / f"worker{i + 1}.log"))
            for w in workers:
                await w.start()
            if setup == "sqlite":
                await until(lambda: emu.waiting_polls > 0, 120, "the poller did not start")
            else:
                await until(lambda: emu.webhook is not None, 120, "no webhook was set")

            started = time.perf_counter()
            presser = asyncio.create_task(officials(emu, st))
            kill_task = (asyncio.create_task(killer(workers, st, args.kill_every, rng))
                         if args.kill_every != (0.0, 0.0) else None)
            slow_task = (asyncio.create_task(slower(emu, st, args.slow_sends, args.slow_for,
                                                    args.slow_count, random.Random(rng.random())))
                         if args.slow_sends else None)
            cut_task = (asyncio.create_task(cutter(relay, st, args.cut_db_every,
                                                   args.cut_db_for, random.Random(rng.random())))
                        if relay is not None else None)
            users = enterprise_ids(args.users)
            base, extra_n = divmod(args.reports, len(users))
            await asyncio.gather(*(reporter(emu, st, uid, base + (i < extra_n), args.timeout)
                                   for i, uid in enumerate(users)))
            st.done.set()
            for task in (kill_task, cut_task, slow_task):
                if task is not None:
                    await task
            streamed = time.perf_counter()
            # Let the survivors drain: every update applied, every message out.
            await _settle(emu, url, 180)
            fig.seconds = time.perf_counter() - started
            fig.drain_seconds = time.perf_counter() - streamed
            presser.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await presser
        except Exception:
            print_log_tails(workdir)
            raise
        finally:
            for w in workers:
                await w.stop()
            if proxy is not None:
                await proxy.stop()
            if relay is not None:
                fig.cut_refused = relay.refused
                await relay.close()
            await emu.stop()
        fig.reports = len(st.reports_sent)
        fig.submitted = len(st.submitted)
        fig.lost = len(st.lost)
        fig.notes.extend(st.lost[:10])
        fig.kills = len(st.kills)
        fig.cuts = len(st.cuts)
        fig.cut_seconds = sum(b - a for a, b in st.cuts)
        fig.slow_spells, fig.slow_calls = st.slow_spells, st.slow_calls
        fig.slow_for = args.slow_for
        if st.startups:
            fig.startup_median = sorted(st.startups)[len(st.startups) // 2]
        fig.starts = sum(w.starts for w in workers)
        fig.accept_presses = st.accept_presses
        fig.card_latency = st.card_latency
        fig.submit_latency = st.submit_latency
        fig.leadership_acquired = sum(
            w.log.read_text(errors="replace").count("scheduler leadership acquired")
            for w in workers)
        await check(url, emu, st, fig)
    return fig


async def _settle(emu: FaultEmulator, url: str, timeout: float) -> None:
    quiet = 0

    async def quiet_now() -> bool:
        nonlocal quiet
        if not emu.pending_updates() and await outbox_pending(url) == 0:
            quiet += 1
        else:
            quiet = 0
        return quiet >= 5

    await until(quiet_now, timeout, "the bot did not drain its work")


# --- report -------------------------------------------------------------------------------------


def print_figures(fig: Figures) -> None:
    title = ("SQLite, one polling process" if fig.setup == "sqlite"
             else "PostgreSQL, two webhook workers behind a round-robin proxy")
    print()
    print(f"== {fig.framework}, {title}: {_verdict(fig)} ({fig.seconds:.0f} s, of which "
          f"{fig.drain_seconds:.0f} s draining after the stream)")
    print(f"stream:   {fig.reports} reports, {fig.submitted} 提交 presses, "
          f"{fig.accept_presses} 受理 presses; replies lost: {fig.lost}")
    leaders = ("SQLite: the one process always leads" if fig.setup == "sqlite"
               else f"scheduler leadership taken {fig.leadership_acquired} times")
    print(f"faults:   {fig.kills} kill -9 at random moments, {fig.starts} process starts "
          f"(restart to start line: median {fig.startup_median:.1f} s; the next kill's random "
          f"delay counts from there); {leaders}")
    if fig.cuts:
        print(f"database: cut off {fig.cuts} times, {fig.cut_seconds:.1f} s in all; "
              f"{fig.cut_refused} connections refused meanwhile; people told to wait "
              f"{fig.told_to_wait} times")
    if fig.slow_spells:
        print(f"telegram: slow {fig.slow_spells} times: {fig.slow_calls} sendMessage calls "
              f"answered {fig.slow_for:g} s late")
    print(f"updates:  issued {fig.updates_issued}, applied {fig.updates_applied}, "
          f"handed out more than once {fig.updates_redelivered} (at-least-once delivery)")
    print(f"tickets:  {fig.tickets} for {fig.submitted} submitted reports — exactly once "
          f"{fig.tickets_once}, missing {fig.tickets_missing}, duplicated "
          f"{fig.tickets_duplicated}, unexpected {fig.tickets_unexpected}")
    print(f"accepts:  {fig.accepted_tickets} tickets accepted once, "
          f"{fig.multi_accept} accepted more than once "
          f"({fig.accept_presses - fig.accepted_tickets} presses answered \"already done\")")
    print(f"outbox:   {fig.outbox_sent} sent, {fig.outbox_failed} failed, "
          f"{fig.outbox_pending} pending; the {fig.checked_rows} text sendMessage rows "
          f"checked against the emulator: {fig.sent_once} delivered once, {fig.sent_missing} missing, "
          f"{fig.duplicated_keys} delivered twice or more ({fig.extra_deliveries} extra), "
          f"of which {fig.duplicates_explained} with a kill between the deliveries "
          f"(the at-least-once window)")
    print(f"order:    of the {fig.order_checked} messages whose delivery can be told apart, "
          f"{fig.order_overtakes} went out ahead of an earlier one to the same chat (urgent "
          f"ones ahead of queued others excepted)")
    print(f"audit:    {fig.replayed} tickets replayed from ticket_events — final status agrees "
          f"{fig.replay_agrees}, disagrees {fig.replay_disagrees}, broken chains "
          f"{fig.broken_chains}, bad submit records {fig.bad_submits}")
    cl, sl = fig.card_latency, fig.submit_latency
    print(f"latency under faults (ms, p50/p95/p99): card {pct(cl, 50):.0f}/{pct(cl, 95):.0f}/"
          f"{pct(cl, 99):.0f}; 提交 → confirmed {pct(sl, 50):.0f}/{pct(sl, 95):.0f}/"
          f"{pct(sl, 99):.0f}")
    print(f"errors:   {fig.system_errors} \"system error\" answers")
    for note in fig.notes[:15] + fig.order_notes[:5]:
        print(f"  note: {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--framework", default="aiogram", choices=("aiogram", "ptb"))
    parser.add_argument("--setups", default="sqlite,postgres",
                        help="sqlite (one poller) and/or postgres (two webhook workers)")
    parser.add_argument("--kill-every", default="1,4",
                        help="seconds between kills, MIN,MAX (uniformly random); 0: no kills")
    parser.add_argument("--cut-db-every", default="",
                        help="PostgreSQL set-up: seconds between database cuts, MIN,MAX "
                             "(off when not given)")
    parser.add_argument("--cut-db-for", default="0.5,3",
                        help="how long each database cut lasts, MIN,MAX seconds")
    parser.add_argument("--slow-sends", default="",
                        help="seconds between spells of slow sendMessage answers, MIN,MAX "
                             "(off when not given)")
    parser.add_argument("--slow-for", type=float, default=8.0,
                        help="how late a slow answer comes, seconds")
    parser.add_argument("--slow-count", type=int, default=3,
                        help="sendMessage calls answered late in each spell")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds a person waits for a reply before counting it lost")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    bounds = [float(x) for x in args.kill_every.split(",")]
    low, high = bounds[0], bounds[-1]  # "0" alone turns kills off
    args.kill_every = (low, high)
    args.slow_sends = (tuple(float(x) for x in args.slow_sends.split(","))
                       if args.slow_sends else None)
    args.cut_db_every = (tuple(float(x) for x in args.cut_db_every.split(","))
                         if args.cut_db_every else None)
    args.cut_db_for = tuple(float(x) for x in args.cut_db_for.split(","))
    args.seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    # A bot killed mid-request leaves the emulator a half-read request: expected, not news.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    setups = [s for s in args.setups.split(",") if s]
    if "postgres" in setups:
        reason = postgres_reachable()
        if reason:
            print(f"PostgreSQL not reachable ({reason}); SQLite only", file=sys.stderr)
            setups = [s for s in setups if s != "postgres"]
    kills = f"kill -9 every {low:g}–{high:g} s" if (low, high) != (0, 0) else "no kills"
    print(f"Zhitong fault benchmark — {args.reports} reports from {args.users} users, "
          f"{kills}, seed {args.seed}; CPUs {os.cpu_count()}")
    if args.slow_sends:
        print("Telegram slow every {:g}–{:g} s: the next {} sendMessage answers {:g} s late".format(
            *args.slow_sends, args.slow_count, args.slow_for))
    if args.cut_db_every:
        print("PostgreSQL set-up: database cut off every {:g}–{:g} s for {:g}–{:g} s".format(
            *args.cut_db_every, *args.cut_db_for))
    print("Run settings: ZHITONG_SEND_PER_CHAT_INTERVAL=0, rate limits lifted, "
          "ZHITONG_OUTBOX_LEASE_SECONDS=5, ZHITONG_SWEEP_INTERVAL_SECONDS=5")
    failed = False
    with tempfile.TemporaryDirectory(prefix="zhitong-faults-") as tmp:
        for setup in setups:
            print(f"[{setup}] running …", file=sys.stderr, flush=True)
            workdir = Path(tmp) / setup
            workdir.mkdir()
            fig = asyncio.run(run_setup(setup, args.framework, args, workdir))
            print_figures(fig)
            failed |= "FAIL" in _verdict(fig)
    sys.exit(1 if failed else 0)


def _verdict(fig: Figures) -> str:
    bad = (fig.tickets_missing or fig.tickets_duplicated or fig.tickets_unexpected
           or fig.sent_missing or fig.duplicated_keys != fig.duplicates_explained
           or fig.replay_disagrees or fig.broken_chains or fig.bad_submits or fig.multi_accept
           or fig.lost or fig.updates_applied != fig.updates_issued or fig.system_errors
           or fig.order_overtakes)
    return "FAIL" if bad else "PASS"


if __name__ == "__main__":
    main()
