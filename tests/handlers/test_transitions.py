"""Ticket transitions on the example organisation, on SQLite and PostgreSQL.

Every change writes exactly one TicketEvent (actor, role, from, to) and its outbox rows in the
same transaction; forbidden actors get a Chinese sentence and change nothing; a second press
reads "already done".

People (../shared/org.example.yaml): han and yang are enterprise contacts of P2026-001 and
P2026-002; qian is the official of zrzyj (land), zhou of gdgs (utilities), wu of xzspj
(approval), feng of fgw and service officer of P2026-001/002; zhao is admin and official of the
dispatcher zdb; li is the 分包领导 of P2026-001.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain import texts as dtexts
from domain.clock import FrozenClock
from domain.errors import AlreadyDone, DomainError, Forbidden, IllegalTransition, InvalidInput
from domain.lifecycle import Rating
from handlers import texts
from handlers.config import DeskConfig
from handlers.context import Ctx
from handlers.tickets import (
    check_accept,
    check_add_co_unit,
    check_decide_extension,
    check_rate,
    check_reopen,
    check_request_extension,
    check_resolve,
    check_return,
    check_submit,
    check_transfer,
    do_close_unrated,
)
from storage.models import OutboxMessage, Ticket, TicketEvent
from tests.factories import (
    account,
    act,
    ctx_for,
    dump_tables,
    load_example_org,
    project,
    submit,
)

NUMBER = re.compile(r"^\d{8}-\d{3}$")
Step = Callable[[Ctx], Awaitable[Any]]


class Story:
    """Acts as the people of the example organisation, one committed transaction per step."""

    def __init__(self, uow_factory: Any, database_url: str, clock: FrozenClock,
                 config: DeskConfig) -> None:
        self.uow_factory = uow_factory
        self.url = database_url
        self.clock = clock
        self.config = config
        self.update_ids = iter(range(5000, 100000))

    async def submit(self, **kwargs: Any) -> Ticket:
        return await submit(self.uow_factory, self.clock.now(), self.config, **kwargs)

    async def do(self, who: str | None, step: Step) -> Any:
        return await act(self.uow_factory, who, self.clock.now(), self.config, step,
                         update_id=next(self.update_ids))

    async def id_of(self, key: str) -> int:
        async with self.uow_factory() as uow:
            return (await account(uow, key)).id

    async def unit_id(self, code: str) -> int:
        async with self.uow_factory() as uow:
            unit = await uow.org.unit_by_code(code)
            assert unit is not None
            return unit.id

    async def ticket(self, ticket_id: int) -> Ticket:
        async with self.uow_factory() as uow:
            t = await uow.tickets.get(ticket_id)
            assert t is not None
            uow.session.expunge_all()
            return t

    async def events(self, ticket_id: int) -> list[TicketEvent]:
        async with self.uow_factory() as uow:
            found = list(await uow.tickets.events(ticket_id))
            uow.session.expunge_all()
            return found

    async def outbox(self) -> list[OutboxMessage]:
        async with self.uow_factory() as uow:
            found = list(await uow.outbox.all())
            uow.session.expunge_all()
            return found

    async def one_new_event(self, ticket_id: int, before: int) -> TicketEvent:
        events = await self.events(ticket_id)
        assert len(events) == before + 1, [(e.action, e.from_status, e.to_status) for e in events]
        return events[-1]

    async def step(self, who: str | None, ticket_id: int, step: Step) -> TicketEvent:
        """Do one step and return the single audit row it wrote."""
        before = len(await self.events(ticket_id))
        await self.do(who, step)
        return await self.one_new_event(ticket_id, before)

    async def refused(self, who: str | None, step: Step, error: type[DomainError]) -> DomainError:
        """The step fails with `error` and the database is exactly as before."""
        snapshot = await dump_tables(self.url)
        with pytest.raises(error) as info:
            await self.do(who, step)
        assert await dump_tables(self.url) == snapshot
        assert info.value.message and re.search(r"[\u4e00-\u9fff]", info.value.message)
        return info.value


@pytest.fixture
async def story(uow_factory: Any, database_url: str, clock: FrozenClock,
                config: DeskConfig) -> Story:
    await load_example_org(uow_factory, clock.now())
    return Story(uow_factory, database_url, clock, config)


def accept(tid: int) -> Step:
    return lambda ctx: check_accept(ctx, tid)


def resolve(tid: int, result: str = "已协调完成用地报批。") -> Step:
    return lambda ctx: check_resolve(ctx, tid, result)


def rate(tid: int, rating: Rating, reason: str | None = None) -> Step:
    return lambda ctx: check_rate(ctx, tid, rating, reason)


def assert_event(e: TicketEvent, *, action: str, actor: int | None, role: str,
                 from_status: str | None, to_status: str) -> None:
    assert (e.action, e.actor_id, e.role, e.from_status, e.to_status) == (
        action, actor, role, from_status, to_status)
    assert e.update_id is not None and e.created_at is not None


# --- the main road ------------------------------------------------------------------------------


async def test_submit_accept_resolve_rate(story: Story) -> None:
    han, qian = await story.id_of("han"), await story.id_of("qian")
    t = await story.submit(by="han", category="land")
    assert NUMBER.match(t.number) and t.number == "20261124-001"
    assert t.status == "submitted" and t.unit_id == await story.unit_id("zrzyj")
    assert t.reporter_id == han and t.filed_by_id == han
    assert t.accept_due_at > story.clock.now() and t.due_at > t.accept_due_at
    (submitted,) = await story.events(t.id)
    assert (submitted.action, submitted.actor_id, submitted.role, submitted.from_status,
            submitted.to_status) == ("submit", han, "enterprise", None, "submitted")
    assert submitted.data["route"] == "category" and submitted.data["unit"] == "zrzyj"
    cards = [m for m in await story.outbox() if m.idem_key.startswith(f"card:{t.id}:")]
    assert [m.chat_id for m in cards] == [900011]  # qian gets the card with 受理

    story.clock.advance(hours=1)
    e = await story.step("qian", t.id, accept(t.id))
    assert_event(e, action="accept", actor=qian, role="official", from_status="submitted",
                 to_status="in_progress")
    t = await story.ticket(t.id)
    assert t.accepted_by_id == qian and t.accepted_at == story.clock.now()
    notice = next(m for m in await story.outbox() if m.idem_key == f"accepted:{t.id}:{e.id}")
    assert notice.chat_id == 800001
    assert notice.payload["text"] == texts.accepted_notice(t.number, "县自然资源局", "钱科长")

    story.clock.advance(days=2)
    e = await story.step("qian", t.id, resolve(t.id))
    assert_event(e, action="resolve", actor=qian, role="official", from_status="in_progress",
                 to_status="resolved")
    t = await story.ticket(t.id)
    assert t.result == "已协调完成用地报批。" and t.first_resolved_at == story.clock.now()
    ask = next(m for m in await story.outbox() if m.idem_key == f"rate:{t.id}:0:{han}")
    assert ask.chat_id == 800001
    words = [label for row in ask.payload["buttons"] for label, _ in row]
    assert any("满意" in w for w in words) and any("不满意" in w for w in words)

    e = await story.step("han", t.id, rate(t.id, Rating.SATISFIED))
    assert_event(e, action="rate", actor=han, role="enterprise", from_status="resolved",
                 to_status="closed")
    t = await story.ticket(t.id)
    assert (t.status, t.rating, t.closed_at) == ("closed", "satisfied", story.clock.now())
    assert [e.action for e in await story.events(t.id)] == ["submit", "accept", "resolve", "rate"]


async def test_rating_basically_satisfied_closes_too(story: Story) -> None:
    t = await story.submit()
    await story.do("qian", accept(t.id))
    await story.do("qian", resolve(t.id))
    e = await story.step("han", t.id, rate(t.id, Rating.BASICALLY))
    assert e.to_status == "closed" and e.data == {"rating": "basically"}
    assert (await story.ticket(t.id)).rating == "basically"


async def test_any_contact_of_the_project_may_rate(story: Story) -> None:
    # feng files for P2026-001 on han's behalf; han, the contact, rates.
    t = await story.submit(by="feng", reporter="han")
    await story.do("qian", accept(t.id))
    await story.do("qian", resolve(t.id))
    await story.refused("feng", rate(t.id, Rating.SATISFIED), Forbidden)
    e = await story.step("han", t.id, rate(t.id, Rating.SATISFIED))
    assert e.actor_id == await story.id_of("han")


# --- transfer, return and re-route -----------------------------------------------------------------


async def test_transfer_to_another_unit(story: Story) -> None:
    qian = await story.id_of("qian")
    gdgs = await story.unit_id("gdgs")
    t = await story.submit(text="变压器容量不够,需要增容。", category="land")
    e = await story.step("qian", t.id, lambda ctx: check_transfer(ctx, t.id, gdgs))
    assert_event(e, action="transfer", actor=qian, role="official", from_status="submitted",
                 to_status="submitted")
    zrzyj = await story.unit_id("zrzyj")
    assert e.data == {"from_unit": zrzyj, "to_unit": gdgs, "from_unit_code": "zrzyj",
                      "to_unit_code": "gdgs", "category": "land", "kind": "transfer"}
    t = await story.ticket(t.id)
    # The unit changes; the category (the problem) does not, and no tag correction is recorded.
    assert t.unit_id == gdgs and t.category_code == "land"
    async with story.uow_factory() as uow:
        assert list(await uow.tickets.corrections()) == []
    assert any(m.chat_id == 900012 and m.idem_key.startswith(f"card:{t.id}:{e.id}:")
               for m in await story.outbox())  # zhou of gdgs now has the card
    # The old unit lost it; the new one has it.
    err = await story.refused("qian", accept(t.id), Forbidden)
    assert err.message == dtexts.forbidden("accept")
    await story.step("zhou", t.id, accept(t.id))


async def test_transfer_to_the_same_unit_is_refused(story: Story) -> None:
    t = await story.submit()
    zrzyj = await story.unit_id("zrzyj")
    err = await story.refused("qian", lambda ctx: check_transfer(ctx, t.id, zrzyj), InvalidInput)
    assert err.message == dtexts.TRANSFER_SAME_UNIT


async def test_return_then_dispatcher_reroutes(story: Story) -> None:
    qian, zhao = await story.id_of("qian"), await story.id_of("zhao")
    zdb, xzspj = await story.unit_id("zdb"), await story.unit_id("xzspj")
    t = await story.submit(text="规划许可证办理卡在审查环节。", category="land")

    err = await story.refused("qian", lambda ctx: check_return(ctx, t.id, "  "), InvalidInput)
    assert err.message == dtexts.reason_required("return")

    e = await story.step("qian", t.id, lambda ctx: check_return(ctx, t.id, "属于审批事项,非我局职责"))
    assert_event(e, action="return", actor=qian, role="official", from_status="submitted",
                 to_status="submitted")
    assert e.note == "属于审批事项,非我局职责"
    t = await story.ticket(t.id)
    assert t.unit_id == zdb and t.returned_reason == "属于审批事项,非我局职责"
    assert any(m.chat_id == 900001 and m.idem_key.startswith(f"card:{t.id}:{e.id}:")
               for m in await story.outbox())  # the dispatcher (zhao) gets it

    # Only the dispatcher (or an admin) re-routes it; the returning unit cannot.
    await story.refused("qian", lambda ctx: check_transfer(ctx, t.id, xzspj), Forbidden)
    e = await story.step("zhao", t.id, lambda ctx: check_transfer(ctx, t.id, xzspj))
    assert_event(e, action="transfer", actor=zhao, role="official", from_status="submitted",
                 to_status="submitted")
    assert e.data["kind"] == "reroute" and e.data["from_unit"] == zdb
    t = await story.ticket(t.id)
    # Re-routing moves the ticket, not its category (as filed, 用地保障).
    assert (t.unit_id, t.category_code, t.status) == (xzspj, "land", "submitted")
    await story.step("wu", t.id, accept(t.id))


async def test_dispatcher_adds_a_co_handling_unit(story: Story) -> None:
    t = await story.submit()
    gaj = await story.unit_id("gaj")
    await story.refused("qian", lambda ctx: check_add_co_unit(ctx, t.id, gaj), Forbidden)
    e = await story.step("zhao", t.id, lambda ctx: check_add_co_unit(ctx, t.id, gaj))
    assert (e.action, e.from_status, e.to_status) == ("add_co_unit", "submitted", "submitted")
    assert (await story.ticket(t.id)).co_unit_ids == [gaj]
    await story.refused("zhao", lambda ctx: check_add_co_unit(ctx, t.id, gaj), AlreadyDone)


# --- extensions --------------------------------------------------------------------------------


async def request_extension(story: Story, t: Ticket, days: int = 10) -> datetime:
    until = (await story.ticket(t.id)).due_at + timedelta(days=days)
    e = await story.step("qian", t.id, lambda ctx: check_request_extension(
        ctx, t.id, until, "需要等待省厅批复"))
    assert_event(e, action="request_extension", actor=await story.id_of("qian"), role="official",
                 from_status="in_progress", to_status="in_progress")
    return until


async def test_extension_approved(story: Story) -> None:
    t = await story.submit()
    await story.do("qian", accept(t.id))
    until = await request_extension(story, t)
    # zhao (dispatcher) is asked; qian cannot approve her own request, nor can feng.
    assert any(m.chat_id == 900001 for m in await story.outbox()
               if m.idem_key.startswith(f"card:{t.id}:"))
    await story.refused("qian", lambda ctx: check_decide_extension(ctx, t.id, True), Forbidden)
    await story.refused("feng", lambda ctx: check_decide_extension(ctx, t.id, True), Forbidden)
    e = await story.step("zhao", t.id, lambda ctx: check_decide_extension(ctx, t.id, True))
    assert (e.action, e.from_status, e.to_status) == ("approve_extension", "in_progress",
                                                      "in_progress")
    t2 = await story.ticket(t.id)
    # Approved before the first resolution: 按期办结率 judges by the extended deadline too.
    assert t2.due_at == until and t2.extension_until is None and t2.first_due_at == until
    assert any(m.chat_id == 900011 and m.idem_key == f"extdecided:{t.id}:{e.id}"
               for m in await story.outbox())
    err = await story.refused("zhao", lambda ctx: check_decide_extension(ctx, t.id, True),
                              AlreadyDone)
    assert err.message == dtexts.NO_EXTENSION_PENDING


async def test_extension_refused(story: Story) -> None:
    t = await story.submit()
    await story.do("qian", accept(t.id))
    await request_extension(story, t)
    err = await story.refused("qian", lambda ctx: check_request_extension(
        ctx, t.id, t.due_at + timedelta(days=20), "再延"), InvalidInput)
    assert err.message == dtexts.EXTENSION_PENDING
    e = await story.step("zhao", t.id, lambda ctx: check_decide_extension(ctx, t.id, False))
    assert e.action == "refuse_extension"
    t2 = await story.ticket(t.id)
    assert t2.due_at == t.due_at and t2.extension_until is None


async def test_extension_too_late_or_not_later(story: Story) -> None:
    t = await story.submit()
    await story.do("qian", accept(t.id))
    err = await story.refused("qian", lambda ctx: check_request_extension(
        ctx, t.id, t.due_at - timedelta(hours=1), "原因"), InvalidInput)
    assert err.message == dtexts.EXTENSION_NOT_LATER
    story.clock.set(t.due_at + timedelta(hours=1))
    err = await story.refused("qian", lambda ctx: check_request_extension(
        ctx, t.id, t.due_at + timedelta(days=5), "来不及了"), InvalidInput)
    assert err.message == dtexts.EXTENSION_AFTER_DUE


# --- reopen and close unrated ------------------------------------------------------------------


async def test_unsatisfied_reopens_and_tells_the_leader(story: Story) -> None:
    han = await story.id_of("han")
    t = await story.submit()
    await story.do("qian", accept(t.id))
    await story.do("qian", resolve(t.id))
    err = await story.refused("han", rate(t.id, Rating.UNSATISFIED), InvalidInput)
    assert err.message == dtexts.reason_required("reopen")

    story.clock.advance(days=1)
    e = await story.step("han", t.id, rate(t.id, Rating.UNSATISFIED, "指标仍未下达"))
    assert_event(e, action="reopen", actor=han, role="enterprise", from_status="resolved",
                 to_status="in_progress")
    t = await story.ticket(t.id)
    assert (t.status, t.reopen_count, t.rating, t.rating_reason, t.resolved_at) == (
        "in_progress", 1, "unsatisfied", "指标仍未下达", None)
    assert t.due_at > story.clock.now()
    leader = next(m for m in await story.outbox() if m.idem_key == f"reopen-leader:{t.id}:{e.id}")
    assert leader.chat_id == 900002  # li, 分包领导 of P2026-001
    assert any(m.chat_id == 900011 and m.idem_key.startswith(f"reopen:{t.id}:{e.id}:")
               for m in await story.outbox())

    # Second round: resolved again, the old rating buttons are stale, the new ones work.
    await story.do("qian", resolve(t.id, "指标已下达。"))
    assert any(m.idem_key == f"rate:{t.id}:1:{han}" for m in await story.outbox())
    e = await story.step("han", t.id, rate(t.id, Rating.SATISFIED))
    assert e.to_status == "closed"
    t = await story.ticket(t.id)
    assert t.first_resolved_at is not None and t.first_resolved_at < t.resolved_at  # type: ignore[operator]


async def test_reopen_directly(story: Story) -> None:
    t = await story.submit()
    await story.do("qian", accept(t.id))
    await story.do("qian", resolve(t.id))
    await story.refused("qian", lambda ctx: check_reopen(ctx, t.id, "不行"), Forbidden)
    e = await story.step("han", t.id, lambda ctx: check_reopen(ctx, t.id, "不行"))
    assert e.action == "reopen"


async def test_close_unrated_by_the_system(story: Story) -> None:
    t = await story.submit()
    await story.do("qian", accept(t.id))
    await story.do("qian", resolve(t.id))
    story.clock.advance(days=7)

    async def close(ctx: Ctx) -> Ticket:
        found = await ctx.uow.tickets.get(t.id)
        assert found is not None
        return await do_close_unrated(ctx, found)

    e = await story.step(None, t.id, close)
    assert_event(e, action="close_unrated", actor=None, role="system", from_status="resolved",
                 to_status="closed")
    t = await story.ticket(t.id)
    assert (t.status, t.rating, t.closed_at) == ("closed", None, story.clock.now())
    # A late rating press on the closed ticket is harmless.
    await story.refused("han", rate(t.id, Rating.SATISFIED), AlreadyDone)


# --- who may not -------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "action"), [
    ("han", "accept"),  # the enterprise does not handle
    ("li", "accept"),  # the leader watches, does not handle
    ("wu", "accept"),  # an official of another unit
    ("yang", "accept"),
])
async def test_forbidden_accept(story: Story, who: str, action: str) -> None:
    t = await story.submit()
    err = await story.refused(who, accept(t.id), Forbidden)
    assert err.message == dtexts.forbidden(action)
    assert (await story.ticket(t.id)).status == "submitted"


async def test_forbidden_resolve_and_rate(story: Story) -> None:
    t = await story.submit()
    await story.do("qian", accept(t.id))
    for who in ("han", "wu", "li", "feng"):
        err = await story.refused(who, resolve(t.id), Forbidden)
        assert err.message == dtexts.forbidden("resolve")
    await story.do("qian", resolve(t.id))
    for who in ("qian", "li", "yang", "zhao"):
        err = await story.refused(who, rate(t.id, Rating.SATISFIED), Forbidden)
        assert err.message == dtexts.forbidden("rate")


async def test_forbidden_submit(story: Story) -> None:
    def as_reporter(code: str) -> Step:
        async def step(ctx: Ctx) -> Ticket:
            assert ctx.account is not None
            proj = await project(ctx.uow, code)
            return await check_submit(ctx, project=proj, reporter=ctx.account,
                                      text="想反映个问题", category_code="land", urgent=False)
        return step

    for who, code in (("yang", "P2026-001"), ("li", "P2026-001"), ("qian", "P2026-001"),
                      ("feng", "P2026-003")):
        err = await story.refused(who, as_reporter(code), Forbidden)
        assert err.message == dtexts.forbidden("submit")


async def test_service_officer_and_admin_file_on_behalf(story: Story) -> None:
    feng, han = await story.id_of("feng"), await story.id_of("han")
    t = await story.submit(by="feng", reporter="han", project_code="P2026-001")
    (e,) = await story.events(t.id)
    assert (e.role, e.note, e.actor_id) == ("service_officer", "代为反映", feng)
    assert (t.reporter_id, t.filed_by_id) == (han, feng)
    t3 = await story.submit(by="zhao", reporter="zhao", project_code="P2026-003",
                            category="logistics")
    assert t3.unit_id == await story.unit_id("jtj")


async def test_admin_may_handle_any_unit(story: Story) -> None:
    t = await story.submit()
    e = await story.step("zhao", t.id, accept(t.id))
    assert e.actor_id == await story.id_of("zhao")


# --- double presses and illegal moves ----------------------------------------------------------


async def test_second_accept_is_already_done(story: Story) -> None:
    t = await story.submit()
    await story.do("qian", accept(t.id))
    err = await story.refused("qian", accept(t.id), AlreadyDone)
    assert err.message == dtexts.already_done("accept")
    await story.refused("zhao", accept(t.id), AlreadyDone)
    assert [e.action for e in await story.events(t.id)] == ["submit", "accept"]


async def test_second_resolve_and_rate_are_already_done(story: Story) -> None:
    t = await story.submit()
    await story.do("qian", accept(t.id))
    await story.do("qian", resolve(t.id))
    await story.refused("qian", resolve(t.id), AlreadyDone)
    await story.do("han", rate(t.id, Rating.SATISFIED))
    await story.refused("han", rate(t.id, Rating.SATISFIED), AlreadyDone)
    await story.refused("han", rate(t.id, Rating.UNSATISFIED, "再看看"), AlreadyDone)


async def test_illegal_moves_are_refused(story: Story) -> None:
    t = await story.submit()
    err = await story.refused("qian", resolve(t.id), IllegalTransition)
    assert err.message == dtexts.illegal_transition("submitted", "resolve")
    await story.refused("han", rate(t.id, Rating.SATISFIED), IllegalTransition)
    await story.refused("qian", lambda ctx: check_request_extension(
        ctx, t.id, t.due_at + timedelta(days=3), "原因"), IllegalTransition)
    await story.do("qian", accept(t.id))
    await story.do("qian", resolve(t.id))
    gdgs = await story.unit_id("gdgs")
    await story.refused("qian", lambda ctx: check_transfer(ctx, t.id, gdgs), IllegalTransition)
    await story.refused("qian", lambda ctx: check_return(ctx, t.id, "原因"), IllegalTransition)


async def test_empty_result_is_refused(story: Story) -> None:
    t = await story.submit()
    await story.do("qian", accept(t.id))
    err = await story.refused("qian", resolve(t.id, "   "), InvalidInput)
    assert err.message == dtexts.RESULT_REQUIRED


# --- transactions and numbers ------------------------------------------------------------------


async def test_outbox_rows_exist_only_if_the_transaction_committed(
    story: Story, uow_factory: Any, database_url: str, clock: FrozenClock, config: DeskConfig
) -> None:
    before = await dump_tables(database_url)
    async with uow_factory() as uow:
        ctx = await ctx_for(uow, "han", clock.now(), config)
        proj = await project(uow, "P2026-001")
        t = await check_submit(ctx, project=proj, reporter=ctx.account,  # type: ignore[arg-type]
                               text="用地问题", category_code="land", urgent=False)
        assert t.id is not None
        assert await uow.outbox.all()  # written in this transaction …
        assert await uow.tickets.events(t.id)
        await uow.rollback()  # … and thrown away with it
    assert await dump_tables(database_url) == before

    with pytest.raises(RuntimeError):
        async with uow_factory() as uow:
            ctx = await ctx_for(uow, "han", clock.now(), config)
            await check_submit(ctx, project=await project(uow, "P2026-001"),
                               reporter=ctx.account,  # type: ignore[arg-type]
                               text="用地问题", category_code="land", urgent=False)
            raise RuntimeError("crash before commit")
    assert await dump_tables(database_url) == before

    t = await story.submit()
    assert t.number == "20261124-001"  # rolled-back numbers were not used up
    assert [m for m in await story.outbox() if m.idem_key.startswith(f"card:{t.id}:")]


async def test_a_rolled_back_transition_leaves_no_event_and_no_message(
    story: Story, uow_factory: Any, database_url: str, clock: FrozenClock, config: DeskConfig
) -> None:
    t = await story.submit()
    before = await dump_tables(database_url)
    async with uow_factory() as uow:
        ctx = await ctx_for(uow, "qian", clock.now(), config)
        await check_accept(ctx, t.id)
        # no commit
    assert await dump_tables(database_url) == before
    assert (await story.ticket(t.id)).status == "submitted"


async def test_ticket_numbers_are_date_and_sequence(story: Story) -> None:
    numbers = [(await story.submit()).number for _ in range(3)]
    assert numbers == ["20261124-001", "20261124-002", "20261124-003"]
    # 00:30 in Beijing on the 25th is still the 24th in UTC: the local date counts.
    story.clock.set(datetime(2026, 11, 24, 16, 30, tzinfo=UTC))
    assert (await story.submit()).number == "20261125-001"
    assert all(NUMBER.match(n) for n in numbers)


async def test_update_id_is_recorded_on_the_event(story: Story, uow_factory: Any,
                                                  clock: FrozenClock, config: DeskConfig) -> None:
    t = await story.submit()
    await act(uow_factory, "qian", clock.now(), config, accept(t.id), update_id=424242)
    assert (await story.events(t.id))[-1].update_id == 424242
