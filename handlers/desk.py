"""The desk: one Inbound in, state changed in one unit of work, replies through the outbox.

Every transport (aiogram, python-telegram-bot, webhook, the sandbox) calls `Desk.handle`.
An update id is applied at most once: it is recorded in the same transaction as its effect,
and a redelivered update changes nothing (DESIGN §10).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable

from domain.clock import Clock
from domain.errors import AlreadyDone, DomainError
from handlers import lists, official, outmsg, reporting, texts
from handlers.callbacks import parse
from handlers.config import DeskConfig
from handlers.context import Ctx, load_actor
from handlers.inbound import Inbound, Kind, Outbound
from handlers.onboarding import check_redeem_invite
from handlers.ratelimit import RateLimiter
from handlers.tagging import TaggerLike
from storage.availability import may_be_outage
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

# While the database cannot be reached, an update is tried again after this many seconds,
# doubling up to the most.
OUTAGE_FIRST_WAIT = 0.5
OUTAGE_MOST_WAIT = 10.0
# How long the "is the database there?" question may take.
PROBE_TIMEOUT = 5.0


class StoreUnavailable(Exception):
    """The database could not be reached within the caller's patience; nothing was applied."""

CommandHandler = Callable[[Ctx, str], Awaitable[None]]
# A plug-in that may take a message before it becomes a problem report (e.g. progress reports):
# (ctx, text, photo file ids, media group id) → True when it took the message.
MessageHook = Callable[[Ctx, str, list[str], str | None], Awaitable[bool]]
CallbackHandler = Callable[[Ctx, str, int, str | None, int | None], Awaitable[str | None]]


class Desk:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        config: DeskConfig,
        tagger: TaggerLike,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.config = config
        self.tagger = tagger
        self.limiter = RateLimiter(config.rate_limit_per_minute)
        # Extra commands registered by other modules (stats, progress …): name → handler.
        self.extra_commands: dict[str, CommandHandler] = {}
        # Callback scopes registered by other modules: scope letter → handler.
        self.extra_callbacks: dict[str, CallbackHandler] = {}
        self.message_hooks: list[MessageHook] = []
        # Draft kinds /cancel drops, and help paragraphs, contributed by plug-ins.
        self.cancel_kinds: list[str] = [official.INPUT, reporting.REPORT, reporting.PROXY]
        self.help_extra: list[str] = []
        # Updates whose person was told to wait for the database (a redelivery is not told
        # again by this process).
        self._told_to_wait: collections.OrderedDict[int, None] = collections.OrderedDict()
        # The rate limit's verdict per update id, and the waiting notices in flight.
        self._admitted: collections.OrderedDict[int, tuple[bool, bool]] = (
            collections.OrderedDict())
        self._notices: set[asyncio.Future[None]] = set()

    async def handle(self, inb: Inbound, *,
                     on_delay: Callable[[], Awaitable[object]] | None = None,
                     patience: float | None = None) -> Outbound:
        """Apply one update. While the database cannot be reached the update waits for it —
        neither lost nor reported as a failure — and `on_delay` tells the person so, once;
        after `patience` seconds (None: until cancelled) `StoreUnavailable` is raised, with
        nothing applied. A connection that died under the update (the database restarted)
        is retried at once on a fresh one."""
        if inb.kind == Kind.EDITED and not (inb.text or "").strip():
            # A live location moving (Telegram sends every move as an edit, for hours), or a
            # caption removed: not the person's words. No answer, nothing to record, and not
            # counted against their rate limit.
            return Outbound(wake_sender=False)
        limited, warn = self._admit(inb)
        loop = asyncio.get_running_loop()
        deadline = None if patience is None else loop.time() + patience
        wait, retried, told = OUTAGE_FIRST_WAIT, False, False
        while True:
            try:
                if limited:
                    return await self._answer_only(inb, texts.RATE_LIMITED if warn else None)
                # A press whose toast already said "wait" (by this or an earlier delivery)
                # can no longer show a toast.
                return await self._apply(inb, inb.update_id in self._told_to_wait)
            except Exception as exc:
                if not may_be_outage(exc):
                    raise
                left = None if deadline is None else deadline - loop.time()
                probe = PROBE_TIMEOUT if left is None else max(0.1, min(PROBE_TIMEOUT, left))
                if await self.uow_factory.reachable(timeout=probe):
                    if retried:
                        raise  # the database answers: a real fault, not an outage
                    retried = True
                    log.warning("update %s: database connection lost (%s); retrying",
                                inb.update_id, exc.__class__.__name__)
                    continue
                # Wall-clock time counts, not only the pauses: a connect may itself take
                # seconds behind a network that drops packets.
                left = None if deadline is None else deadline - loop.time()
                if left is not None and left <= 0:
                    raise StoreUnavailable(str(exc)) from exc
                if not told:
                    told = True
                    log.warning("update %s waits: the database cannot be reached (%s)",
                                inb.update_id, exc.__class__.__name__)
                    self._tell_to_wait(inb.update_id, on_delay)
            retried = False
            await asyncio.sleep(wait if left is None else min(wait, left))
            wait = min(wait * 2, OUTAGE_MOST_WAIT)

    def _admit(self, inb: Inbound) -> tuple[bool, bool]:
        """(limited, warn) under the per-person rate limit — decided once per update id, so a
        delivery repeated while the database was away is not charged again."""
        decided = self._admitted.get(inb.update_id)
        if decided is not None:
            return decided
        now = self.clock.now()
        limited = not self.limiter.allow(inb.user_id, now)
        warn = limited and (self.limiter.should_warn(inb.user_id, now)
                            or inb.kind == Kind.CALLBACK)
        self._admitted[inb.update_id] = (limited, warn)
        if len(self._admitted) > 4096:
            self._admitted.popitem(last=False)
        return limited, warn

    def _tell_to_wait(self, update_id: int,
                      on_delay: Callable[[], Awaitable[object]] | None) -> None:
        """Tell the person beside the wait (a slow Bot API must not eat into the patience)."""
        if on_delay is None or update_id in self._told_to_wait:
            return
        self._told_to_wait[update_id] = None
        if len(self._told_to_wait) > 1024:
            self._told_to_wait.popitem(last=False)

        async def tell() -> None:
            try:
                await on_delay()
            except Exception as exc:  # the wait goes on; only the notice is lost
                log.warning("could not tell update %s's sender to wait: %s", update_id, exc)

        task = asyncio.ensure_future(tell())
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)

    async def _apply(self, inb: Inbound, told_to_wait: bool = False) -> Outbound:
        now = self.clock.now()
        try:
            async with self.uow_factory() as uow:
                if not await uow.updates.mark(inb.update_id, now):
                    return self._duplicate(inb)
                uow.outbox.write_together()
                ctx = Ctx(uow, now, self.config, inb.update_id, inb.chat_id)
                answer = await self._route(ctx, inb)
                if told_to_wait and inb.kind == Kind.CALLBACK and answer:
                    # Its toast already said "wait": the outcome goes as a message.
                    await ctx.reply(outmsg.send(texts.esc(answer)))
                await uow.commit()
                return Outbound(callback_answer=answer)
        except DomainError as err:
            # The change is rolled back; the person is told why, once, and the update is spent.
            return await self._answer_only(inb, err.message, alert=not isinstance(err, AlreadyDone),
                                           as_message=told_to_wait)

    async def give_up(self, inb: Inbound) -> Outbound:
        """Spend an update that failed again and again (a fault, not an outage): the person is
        told it did not go through, nothing else changes, and a redelivery is a duplicate."""
        log.error("update %s spent after repeated failures", inb.update_id)
        return await self._answer_only(inb, texts.SYSTEM_ERROR)

    def _duplicate(self, inb: Inbound) -> Outbound:
        return Outbound(callback_answer=texts.DONE_ALREADY if inb.kind == Kind.CALLBACK else None,
                        wake_sender=False)

    async def _answer_only(self, inb: Inbound, message: str | None,
                           alert: bool = True, as_message: bool = False) -> Outbound:
        """Spend the update and tell the person `message` (nothing else changes)."""
        now = self.clock.now()
        async with self.uow_factory() as uow:
            if not await uow.updates.mark(inb.update_id, now):
                return self._duplicate(inb)
            if message and (inb.kind != Kind.CALLBACK or as_message):
                ctx = Ctx(uow, now, self.config, inb.update_id, inb.chat_id)
                await ctx.reply(outmsg.send(texts.esc(message)))
            await uow.commit()
        if inb.kind == Kind.CALLBACK:
            return Outbound(callback_answer=(message or "")[:190] or None, alert=alert,
                            wake_sender=as_message and bool(message))
        return Outbound()

    # --- routing ------------------------------------------------------------------------------

    async def _route(self, ctx: Ctx, inb: Inbound) -> str | None:
        uow = ctx.uow
        if inb.kind == Kind.COMMAND and inb.command == "start":
            account = await uow.accounts.by_telegram_id(inb.user_id)
            if inb.args.strip():
                greeting = await check_redeem_invite(ctx, inb.args.strip(), inb.user_id,
                                                     inb.first_name)
                await ctx.reply(outmsg.send(greeting))
            elif account is not None and account.active:
                await ctx.reply(outmsg.send(texts.welcome_back(account.name)))
                ctx.account = account
                from handlers.onboarding import notify_command_menu

                await notify_command_menu(ctx, account)
            else:
                await ctx.reply(outmsg.send(texts.START_NO_TOKEN))
            return None
        account = await uow.accounts.by_telegram_id(inb.user_id)
        if account is None or not account.active:
            if inb.kind == Kind.EDITED:
                return None  # told when they sent it
            if inb.kind == Kind.CALLBACK:
                return texts.NOT_REGISTERED
            await ctx.reply(outmsg.send(texts.NOT_REGISTERED))
            return None
        ctx.account = account
        ctx.actor = await load_actor(uow, account)
        if inb.kind == Kind.CALLBACK:
            return await self._callback(ctx, inb)
        if inb.kind == Kind.COMMAND:
            await self._command(ctx, inb)
            return None
        if inb.kind == Kind.UNSUPPORTED:
            await ctx.reply(outmsg.send(texts.UNSUPPORTED))
            return None
        if inb.kind == Kind.EDITED:
            await self._edited(ctx, inb)
            return None
        await self._message(ctx, inb)
        return None

    async def _command(self, ctx: Ctx, inb: Inbound) -> None:
        assert ctx.account is not None and ctx.actor is not None
        name = inb.command or ""
        if name == "help":
            roles = set(ctx.account.roles or [])
            body = texts.HELP_OFFICIAL if roles & {"official", "leader"} else texts.HELP_ENTERPRISE
            if "admin" in roles:
                body = texts.HELP_OFFICIAL + texts.HELP_ADMIN_EXTRA
            await ctx.reply(outmsg.send("\n".join([body, *self.help_extra])))
        elif name == "mine":
            await lists.show_mine(ctx)
        elif name == "todo":
            await lists.show_todo(ctx)
        elif name == "ticket":
            await lists.show_ticket(ctx, inb.args)
        elif name == "report":
            await reporting.start_proxy(ctx)
        elif name == "cancel":
            dropped = False
            for kind in self.cancel_kinds:
                if await ctx.uow.drafts.get(ctx.account.id, kind) is not None:
                    await ctx.uow.drafts.drop(ctx.account.id, kind)
                    dropped = True
            await ctx.reply(outmsg.send(texts.CANCELLED if dropped else texts.NOTHING_TO_CANCEL))
        elif name in self.extra_commands:
            await self.extra_commands[name](ctx, inb.args)
        else:
            await ctx.reply(outmsg.send(texts.UNKNOWN_COMMAND))

    async def _callback(self, ctx: Ctx, inb: Inbound) -> str | None:
        cb = parse(inb.callback_data)
        if cb is None:
            return texts.BAD_CALLBACK
        if cb.scope == "t":
            return await official.on_ticket_button(ctx, cb.op, cb.target, cb.arg, inb.message_id)
        if cb.scope == "r":
            return await official.on_rating_button(ctx, cb.op, cb.target, cb.arg, inb.message_id)
        if cb.scope == "d":
            return await reporting.on_draft_button(ctx, cb.op, cb.target, cb.arg, inb.message_id)
        if cb.scope == "x" and cb.op == "prj":
            return await reporting.on_proxy_button(ctx, cb.target, inb.message_id)
        if cb.scope == "p" and cb.op == "mine":
            await lists.show_mine(ctx, cb.target, inb.message_id)
            return None
        if cb.scope == "p" and cb.op == "todo":
            await lists.show_todo(ctx, cb.target, inb.message_id)
            return None
        if cb.scope in self.extra_callbacks:
            return await self.extra_callbacks[cb.scope](ctx, cb.op, cb.target, cb.arg,
                                                        inb.message_id)
        return texts.BAD_CALLBACK

    async def _edited(self, ctx: Ctx, inb: Inbound) -> None:
        """An edit follows the open draft it started; anything else already happened, and the
        person is told the edit changed nothing rather than left to believe it did."""
        text = (inb.text or "").strip()
        if len(text) > self.config.max_text_chars:
            await ctx.reply(outmsg.send(texts.too_long(self.config.max_text_chars, len(text))))
        elif await reporting.follow_edit(ctx, self.tagger, inb.message_id, text):
            await ctx.reply(outmsg.send(texts.EDIT_APPLIED))
        else:
            await ctx.reply(outmsg.send(texts.EDIT_NOT_APPLIED))

    async def _message(self, ctx: Ctx, inb: Inbound) -> None:
        assert ctx.account is not None
        text = (inb.text or "").strip()
        photos = list(inb.photo_file_ids)
        if len(text) > self.config.max_text_chars:
            await ctx.reply(outmsg.send(texts.too_long(self.config.max_text_chars, len(text))))
            return
        pending = await ctx.uow.drafts.get(ctx.account.id, official.INPUT)
        if pending is not None and (text or photos):
            if not text:
                await ctx.reply(outmsg.send(texts.EMPTY_TEXT))
                return
            await official.on_pending_input(ctx, dict(pending.data), text, photos)
            return
        for hook in self.message_hooks:
            if await hook(ctx, text, photos, inb.media_group_id):
                return
        if not text:
            if photos and inb.media_group_id:
                # Later photos of an album arrive without a caption; they join the draft.
                current = await ctx.uow.drafts.get(ctx.account.id, reporting.REPORT)
                if current is not None and current.data.get("media_group_id") == inb.media_group_id:
                    await reporting.start_report(ctx, self.tagger, "", photos, inb.media_group_id)
                    return
            await ctx.reply(outmsg.send(texts.PHOTO_NEEDS_TEXT if photos else texts.EMPTY_TEXT))
            if photos:
                await ctx.uow.drafts.put(ctx.account.id, "photos", {"photos": photos}, ctx.now)
            return
        stash = await ctx.uow.drafts.get(ctx.account.id, "photos")
        if stash is not None:
            photos = [*stash.data.get("photos", []), *photos]
            await ctx.uow.drafts.drop(ctx.account.id, "photos")
        await reporting.start_report(ctx, self.tagger, text, photos, inb.media_group_id,
                                     inb.message_id)

