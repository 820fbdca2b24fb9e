"""The sweeps over simulated days, on SQLite and PostgreSQL (DESIGN §8).

A ticket of category `site` (施工环境, 3 working days, handled by 县公安局 gaj: official wang) for
P2026-001 (分包领导 li), reported by han on Tuesday 24 Nov 2026 09:00 Beijing time:
accept due Wed 25 18:00, resolve due Fri 27 18:00.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from domain import texts as dtexts
from domain.errors import InvalidInput
from domain.lifecycle import Rating
from handlers import outmsg
from handlers.config import DeskConfig
from handlers.stats import monthly_ranking
from handlers.tickets import (
    check_accept,
    check_decide_extension,
    check_rate,
    check_request_extension,
    check_resolve,
)
from handlers.views import rating_buttons
from scheduler import texts
from storage.models import OutboxMessage, Ticket, TicketEvent
from tests.factories import account, act, load_example_org, make_uow_factory, submit, ticket
from tests.scheduler.conftest import (
    HAN,
    LI,
    SUN,
    WANG,
    ZHAO,
    bj,
    by_chat,
    chats,
    nonempty,
    outbox_rows,
    sweep,
)

SUBMIT_AT = bj(2026, 11, 24, 9)
LINE: dict[str, Any] = dict(project="豫东智能家居产业园", unit="县公安局", category="施工环境", urgent=False,
            text="项目工地门口有人阻工,施工车辆无法进出。", due="2026-11-27 18:00",
            accept_due="2026-11-25 18:00")


async def _ticket(uow_factory: Any, config: DeskConfig, at: datetime = SUBMIT_AT,
                  urgent: bool = False) -> Ticket:
    await load_example_org(uow_factory, at)
    return await submit(uow_factory, at, config, by="han", category="site", text=LINE["text"],
                        urgent=urgent)


def _line(number: str, **over: Any) -> texts.TicketLine:
    return texts.TicketLine(number=number, **{**LINE, **over})


async def _account_id(uow_factory: Any, key: str) -> int:
    async with uow_factory() as uow:
        return (await account(uow, key)).id


async def _ids(uow_factory: Any, *keys: str) -> list[int]:
    return [await _account_id(uow_factory, k) for k in keys]


async def _accept(uow_factory: Any, config: DeskConfig, t: Ticket, at: datetime) -> None:
    await act(uow_factory, "wang", at, config, lambda ctx: check_accept(ctx, t.id))


async def _once(uow_factory: Any, at: datetime, config: DeskConfig) -> dict[str, list[str]]:
    """A sweep, then the same sweep again: the second adds nothing."""
    result = await sweep(uow_factory, at, config)
    again = await sweep(uow_factory, at, config)
    assert nonempty(again) == {}, again
    return result


async def test_full_ladder_over_simulated_days(uow_factory: Any, database_url: str,
                                               config: DeskConfig) -> None:
    t = await _ticket(uow_factory, config)
    zhao, wang, li = await _ids(uow_factory, "zhao", "wang", "li")
    line = _line(t.number)

    assert nonempty(await _once(uow_factory, SUBMIT_AT, config)) == {}
    assert nonempty(await _once(uow_factory, bj(2026, 11, 25, 17, 59), config)) == {}

    # Wed 18:00: not accepted in time → the unit is reminded, the dispatcher told.
    r = await _once(uow_factory, bj(2026, 11, 25, 18), config)
    assert nonempty(r) == {"accept": 2}
    assert sorted(r["accept"]) == sorted([f"remind:{t.id}:accept:2026-11-25:{wang}",
                                          f"remind:{t.id}:accept:2026-11-25:{zhao}"])
    assert await by_chat(uow_factory, r["accept"]) == {
        WANG: [texts.accept_overdue_unit(line)],
        ZHAO: [texts.accept_overdue_dispatcher(line)],
    }
    # A restart (a new engine, nothing in memory) finds nothing new either.
    engine, fresh = make_uow_factory(database_url)
    try:
        assert nonempty(await sweep(fresh, bj(2026, 11, 25, 18), config)) == {}
        assert nonempty(await sweep(fresh, bj(2026, 11, 25, 18, 5), config)) == {}
    finally:
        await engine.dispose()

    await _accept(uow_factory, config, t, bj(2026, 11, 26, 10))
    assert nonempty(await _once(uow_factory, bj(2026, 11, 26, 17, 59), config)) == {}

    # Thu 18:00, one working day before the due time.
    r = await _once(uow_factory, bj(2026, 11, 26, 18), config)
    assert r["before"] == [f"remind:{t.id}:before:2026-11-27:{wang}"]
    assert await by_chat(uow_factory, r["before"]) == {WANG: [texts.before_due(line)]}
    assert nonempty(r) == {"before": 1}

    # Fri 18:00, at the due time.
    r = await _once(uow_factory, bj(2026, 11, 27, 18), config)
    assert nonempty(r) == {"due": 1}
    assert await by_chat(uow_factory, r["due"]) == {WANG: [texts.at_due(line)]}

    # The weekend is not counted and not disturbed.
    assert nonempty(await _once(uow_factory, bj(2026, 11, 28, 9), config)) == {}
    assert nonempty(await _once(uow_factory, bj(2026, 11, 29, 9), config)) == {}

    # Mon 09:00: 督办, 1 working day overdue (the weekly bulletin goes out too).
    r = await _once(uow_factory, bj(2026, 11, 30, 9), config)
    assert r["overdue"] == [f"remind:{t.id}:overdue:2026-11-30:{wang}"]
    assert await by_chat(uow_factory, r["overdue"]) == {WANG: [texts.overdue(line, 1)]}
    assert not r["leader"] and not r["admin"]

    # Tue 09:00: 2 working days overdue → the 分包领导 too.
    r = await _once(uow_factory, bj(2026, 12, 1, 9), config)
    assert await by_chat(uow_factory, r["overdue"]) == {WANG: [texts.overdue(line, 2)]}
    assert r["leader"] == [f"escalate:{t.id}:leader:2026-12-01:{li}"]
    leader_text = texts.escalate_leader(line, 2, dtexts.STATUS_NAMES["in_progress"])
    assert await by_chat(uow_factory, r["leader"]) == {LI: [leader_text]}
    assert not r["admin"]

    for day, n in ((2, 3), (3, 4)):
        r = await _once(uow_factory, bj(2026, 12, day, 9), config)
        assert await by_chat(uow_factory, r["overdue"]) == {WANG: [texts.overdue(line, n)]}
        assert not r["leader"] and not r["admin"]

    # Fri 4 Dec: 5 working days overdue → the admins.
    r = await _once(uow_factory, bj(2026, 12, 4, 9), config)
    assert await chats(uow_factory, r["overdue"]) == {WANG}
    assert r["admin"] == [f"escalate:{t.id}:admin:2026-12-04:{zhao}"]
    admin_text = texts.escalate_admin(line, 5, dtexts.STATUS_NAMES["in_progress"], "李副县长")
    assert await by_chat(uow_factory, r["admin"]) == {ZHAO: [admin_text]}
    assert not r["leader"]

    r = await _once(uow_factory, bj(2026, 12, 7, 9), config)
    assert await by_chat(uow_factory, r["overdue"]) == {WANG: [texts.overdue(line, 6)]}
    assert not r["leader"] and not r["admin"]

    # Messages are not urgent and went out at the sweep's time (no quiet hours involved).
    rows = await outbox_rows(uow_factory, r["overdue"])
    assert [(m.urgent, m.not_before) for m in rows.values()] == [(False, bj(2026, 12, 7, 9))]


async def test_after_downtime_each_step_is_sent_once(uow_factory: Any,
                                                     config: DeskConfig) -> None:
    """Nothing ran from Tuesday to the next Thursday: one 督办 for today, the escalation once."""
    t = await _ticket(uow_factory, config)
    li = await _account_id(uow_factory, "li")
    r = await _once(uow_factory, bj(2026, 12, 3, 10), config)
    assert nonempty(r) == {"accept": 2, "overdue": 1, "leader": 1}
    assert r["overdue"][0].startswith(f"remind:{t.id}:overdue:2026-12-03:")
    assert r["leader"] == [f"escalate:{t.id}:leader:2026-12-01:{li}"]
    assert await by_chat(uow_factory, r["overdue"]) == {WANG: [texts.overdue(_line(t.number), 4)]}

    r = await _once(uow_factory, bj(2026, 12, 4, 9), config)
    assert nonempty(r) == {"overdue": 1, "admin": 1}


async def test_any_change_replans_the_ticket(uow_factory: Any, config: DeskConfig) -> None:
    t = await _ticket(uow_factory, config)
    await sweep(uow_factory, SUBMIT_AT, config)
    planned = await ticket(uow_factory, t.id)
    assert planned.sweep_at == bj(2026, 11, 25, 18)  # the accept deadline
    await _accept(uow_factory, config, t, bj(2026, 11, 24, 10))
    changed = await ticket(uow_factory, t.id)
    assert changed.sweep_at is not None and changed.sweep_at.year == 1970
    await sweep(uow_factory, bj(2026, 11, 24, 10), config)
    assert (await ticket(uow_factory, t.id)).sweep_at == bj(2026, 11, 26, 18)  # before due


async def test_quiet_hours_hold_non_urgent_pushes(uow_factory: Any, config: DeskConfig) -> None:
    t = await _ticket(uow_factory, config)
    # First sweep on Friday 23:00: the accept reminder and the at-due reminder are owed.
    r = await sweep(uow_factory, bj(2026, 11, 27, 23), config)
    assert nonempty(r) == {"accept": 2, "due": 1}
    keys = r["accept"] + r["due"]
    rows = await outbox_rows(uow_factory, keys)
    assert {(m.urgent, m.not_before) for m in rows.values()} == {(False, bj(2026, 11, 28, 7, 30))}
    async with uow_factory() as uow:
        from datetime import timedelta

        assert [m for m in await uow.outbox.claim_due(bj(2026, 11, 28, 7, 29), 100,
                                                      timedelta(seconds=1))
                if m.idem_key in keys] == []
    async with uow_factory() as uow:
        ready = await uow.outbox.claim_due(bj(2026, 11, 28, 7, 30), 100, timedelta(seconds=1))
        assert set(keys) <= {m.idem_key for m in ready}
    assert t.urgent is False


async def test_urgent_pushes_ignore_quiet_hours(uow_factory: Any, config: DeskConfig) -> None:
    # Urgent, reported Tue 21:00: accept within 2 hours (23:00), resolve by Wed 18:00.
    t = await _ticket(uow_factory, config, at=bj(2026, 11, 24, 21), urgent=True)
    assert t.accept_due_at == bj(2026, 11, 24, 23) and t.due_at == bj(2026, 11, 25, 18)
    assert nonempty(await sweep(uow_factory, bj(2026, 11, 24, 22, 59), config)) == {}
    r = await sweep(uow_factory, bj(2026, 11, 24, 23), config)
    assert nonempty(r) == {"accept": 2}
    rows = await outbox_rows(uow_factory, r["accept"])
    assert {(m.urgent, m.not_before) for m in rows.values()} == {(True, bj(2026, 11, 24, 23))}
    # One hour before the due time, not one working day.
    assert nonempty(await sweep(uow_factory, bj(2026, 11, 25, 16, 59), config)) == {}
    r = await sweep(uow_factory, bj(2026, 11, 25, 17), config)
    assert nonempty(r) == {"before": 1}
    urgent_line = _line(t.number, urgent=True, due="2026-11-25 18:00",
                        accept_due="2026-11-24 23:00")
    assert await by_chat(uow_factory, r["before"]) == {WANG: [texts.before_due(urgent_line)]}


async def test_extension_approved_moves_the_ladder(uow_factory: Any, config: DeskConfig) -> None:
    t = await _ticket(uow_factory, config)
    await _accept(uow_factory, config, t, bj(2026, 11, 24, 10))
    until = bj(2026, 12, 4, 18)
    await act(uow_factory, "wang", bj(2026, 11, 25, 10), config,
              lambda ctx: check_request_extension(ctx, t.id, until, "等待设计院出图"))
    await act(uow_factory, "zhao", bj(2026, 11, 25, 11), config,
              lambda ctx: check_decide_extension(ctx, t.id, True))
    moved = await ticket(uow_factory, t.id)
    assert moved.due_at == until
    async with uow_factory() as uow:
        ev = (await uow.session.execute(select(TicketEvent).where(
            TicketEvent.ticket_id == t.id, TicketEvent.action == "approve_extension"))).scalar_one()
        assert ev.actor_id == (await account(uow, "zhao")).id
        assert ev.data["previous_due"] == bj(2026, 11, 27, 18).astimezone(ev.created_at.tzinfo
                                                                          ).isoformat()

    for at in (bj(2026, 11, 26, 18), bj(2026, 11, 27, 18), bj(2026, 11, 30, 9),
               bj(2026, 12, 3, 17, 59)):
        assert nonempty(await _once(uow_factory, at, config)).keys() <= {"bulletin", "ranking"}
    r = await _once(uow_factory, bj(2026, 12, 3, 18), config)
    assert r["before"][0].startswith(f"remind:{t.id}:before:2026-12-04:")
    line = _line(t.number, due="2026-12-04 18:00")
    assert await by_chat(uow_factory, r["before"]) == {WANG: [texts.before_due(line)]}
    r = await _once(uow_factory, bj(2026, 12, 4, 18), config)
    assert nonempty(r) == {"due": 1}


async def test_extension_refused_keeps_the_ladder(uow_factory: Any, config: DeskConfig) -> None:
    t = await _ticket(uow_factory, config)
    await _accept(uow_factory, config, t, bj(2026, 11, 24, 10))
    await act(uow_factory, "wang", bj(2026, 11, 26, 10), config,
              lambda ctx: check_request_extension(ctx, t.id, bj(2026, 12, 11, 18), "材料不全"))
    # While the request waits, the reminders go on by the current due time.
    r = await _once(uow_factory, bj(2026, 11, 26, 18), config)
    assert nonempty(r) == {"before": 1}
    await act(uow_factory, "zhao", bj(2026, 11, 27, 9), config,
              lambda ctx: check_decide_extension(ctx, t.id, False))
    assert (await ticket(uow_factory, t.id)).due_at == bj(2026, 11, 27, 18)
    r = await _once(uow_factory, bj(2026, 11, 27, 18), config)
    assert nonempty(r) == {"due": 1}
    r = await _once(uow_factory, bj(2026, 11, 30, 9), config)
    assert len(r["overdue"]) == 1


async def test_extension_requested_after_due_is_refused(uow_factory: Any,
                                                        config: DeskConfig) -> None:
    t = await _ticket(uow_factory, config)
    await _accept(uow_factory, config, t, bj(2026, 11, 24, 10))
    with pytest.raises(InvalidInput) as err:
        await act(uow_factory, "wang", bj(2026, 11, 28, 10), config,
                  lambda ctx: check_request_extension(ctx, t.id, bj(2026, 12, 11, 18), "来不及"))
    assert err.value.message == dtexts.EXTENSION_AFTER_DUE
    after = await ticket(uow_factory, t.id)
    assert after.due_at == bj(2026, 11, 27, 18) and after.extension_until is None
    r = await _once(uow_factory, bj(2026, 11, 30, 9), config)
    assert len(r["overdue"]) == 1


async def _resolved(uow_factory: Any, config: DeskConfig) -> Ticket:
    t = await _ticket(uow_factory, config)
    await _accept(uow_factory, config, t, bj(2026, 11, 24, 10))
    await act(uow_factory, "wang", bj(2026, 11, 25, 10), config,
              lambda ctx: check_resolve(ctx, t.id, "已联系派出所到场处置,车辆恢复通行"))
    return t


async def test_reask_then_autoclose(uow_factory: Any, config: DeskConfig) -> None:
    t = await _resolved(uow_factory, config)
    han = await _account_id(uow_factory, "han")
    assert nonempty(await _once(uow_factory, bj(2026, 11, 27, 9, 59), config)) == {}
    # Two working days after the resolution (Wed 10:00 → Fri 10:00): asked again, with buttons.
    r = await _once(uow_factory, bj(2026, 11, 27, 10), config)
    assert nonempty(r) == {"reask": 1}
    assert r["reask"] == [f"reask:{t.id}:0:{han}"]
    row = (await outbox_rows(uow_factory, r["reask"]))[r["reask"][0]]
    current = await ticket(uow_factory, t.id)
    assert row.chat_id == HAN
    assert row.payload == outmsg.send(
        texts.reask_rating(t.number, "县公安局", "已联系派出所到场处置,车辆恢复通行"),
        rating_buttons(current))
    assert current.rating_asks == 2
    # Five more working days (Fri 27 Nov → Fri 4 Dec 10:00): closed as unrated, audited.
    assert nonempty(await _once(uow_factory, bj(2026, 12, 4, 9, 59), config)) == {}
    r = await _once(uow_factory, bj(2026, 12, 4, 10), config)
    assert r["autoclose"] == [f"autoclose:{t.id}:0:{han}"]
    assert await by_chat(uow_factory, r["autoclose"]) == {HAN: [texts.autoclosed(t.number)]}
    closed = await ticket(uow_factory, t.id)
    assert closed.status == "closed" and closed.rating is None and closed.sweep_at is None
    assert closed.closed_at == bj(2026, 12, 4, 10)
    async with uow_factory() as uow:
        ev = (await uow.tickets.events(t.id))[-1]
        assert (ev.action, ev.actor_id, ev.role, ev.to_status) == (
            "close_unrated", None, "system", "closed")
    assert nonempty(await _once(uow_factory, bj(2026, 12, 10, 10), config)).keys() <= {
        "bulletin", "ranking"}


async def test_rating_after_reask_stops_autoclose(uow_factory: Any, config: DeskConfig) -> None:
    t = await _resolved(uow_factory, config)
    await sweep(uow_factory, bj(2026, 11, 27, 10), config)
    await act(uow_factory, "han", bj(2026, 11, 30, 11), config,
              lambda ctx: check_rate(ctx, t.id, Rating.SATISFIED))
    r = await _once(uow_factory, bj(2026, 12, 4, 10), config)
    assert not r["autoclose"]
    done = await ticket(uow_factory, t.id)
    assert done.rating == "satisfied" and done.sweep_at is None


async def test_weekly_bulletin_and_monthly_ranking(uow_factory: Any, config: DeskConfig) -> None:
    t = await _ticket(uow_factory, config)
    other = await submit(uow_factory, bj(2026, 11, 25, 9), config, by="han", category="land")
    zhao, li, sun = await _ids(uow_factory, "zhao", "li", "sun")
    assert nonempty(await sweep(uow_factory, bj(2026, 11, 30, 8, 29), config)).keys() <= {
        "accept", "due"}

    r = await _once(uow_factory, bj(2026, 11, 30, 8, 30), config)
    assert sorted(r["bulletin"]) == sorted(f"bulletin:2026-W48:{i}" for i in (zhao, li, sun))
    texts_by_chat = await by_chat(uow_factory, r["bulletin"])
    assert set(texts_by_chat) == {ZHAO, LI, SUN}
    text = texts_by_chat[ZHAO][0]
    assert text == texts_by_chat[LI][0] == texts_by_chat[SUN][0]
    assert "2026-11-23 至 2026-11-29" in text
    assert "县公安局:1 / 0 / 1" in text and "县自然资源局:1 / 0 / 0" in text
    assert f"#{t.number}" in text and f"#{other.number}" not in text  # only the overdue one
    # Later that day: already sent; after a day a missed bulletin is not sent any more.
    assert not (await sweep(uow_factory, bj(2026, 11, 30, 15), config))["bulletin"]
    assert not (await sweep(uow_factory, bj(2026, 12, 7, 8, 29), config))["bulletin"]

    r = await _once(uow_factory, bj(2026, 12, 1, 8, 30), config)
    assert sorted(r["ranking"]) == sorted(f"ranking:2026-11:{i}" for i in (zhao, li, sun))
    assert set(await by_chat(uow_factory, r["ranking"])) == {ZHAO, LI, SUN}
    assert not (await sweep(uow_factory, bj(2026, 12, 1, 20), config))["ranking"]


async def _ranking_outbox(uow_factory: Any) -> list[OutboxMessage]:
    async with uow_factory() as uow:
        rows = (await uow.session.execute(
            select(OutboxMessage).where(OutboxMessage.idem_key.like("ranking:%"))
            .order_by(OutboxMessage.idem_key))).scalars().all()
        uow.session.expunge_all()
        return list(rows)


async def test_monthly_ranking_push_is_the_stats_ranking(uow_factory: Any,
                                                         config: DeskConfig) -> None:
    """The pushed 月排名 is `handlers.stats.monthly_ranking`: the dispatcher is not ranked,
    units below the minimum sample (5) are listed but not ranked, red and black lists."""
    await load_example_org(uow_factory, SUBMIT_AT)
    # November: 县自然资源局 (land) 5 tickets accepted in time; 县公安局 (site) 5 never accepted;
    # the dispatcher 县重点项目办公室 (other) 6 accepted in time, which would rank it first if it
    # were ranked; 县发展和改革委员会 (policy) 1 ticket: below the minimum sample.
    for category, n, official in (("land", 5, "qian"), ("site", 5, None),
                                  ("other", 6, "zhao"), ("policy", 1, None)):
        for _ in range(n):
            t = await submit(uow_factory, SUBMIT_AT, config, by="han", category=category)
            if official is not None:
                await act(uow_factory, official, bj(2026, 11, 24, 10), config,
                          lambda ctx, tid=t.id: check_accept(ctx, tid))
    zhao, li, sun = await _ids(uow_factory, "zhao", "li", "sun")

    at = bj(2026, 12, 1, 8, 30)
    r = await _once(uow_factory, at, config)  # asserts that the rerun adds nothing
    assert sorted(r["ranking"]) == sorted(f"ranking:2026-11:{i}" for i in (zhao, li, sun))
    pushed = await by_chat(uow_factory, r["ranking"])
    assert set(pushed) == {ZHAO, LI, SUN}
    text = pushed[LI][0]
    assert pushed[ZHAO] == pushed[SUN] == [text]

    # One definition: the same text as the statistics' ranking of the previous month.
    async with uow_factory() as uow:
        expected, ranking = await monthly_ranking(uow, at, config.timezone)
    assert text == expected
    assert [(e.unit.name, e.rank) for e in ranking.ranked] == [("县自然资源局", 1), ("县公安局", 2)]

    assert "2026年11月" in text
    # Response rate 100% (weight 0.15) and 办结率 0% (0.25) over the rates that have a denominator.
    assert "1. 县自然资源局 <b>37.5</b> 分" in text
    assert "2. 县公安局 <b>0.0</b> 分" in text
    assert "县重点项目办公室" not in text  # the dispatcher is neither ranked nor listed
    assert "🔴 <b>红榜</b>:县自然资源局" in text
    assert "⚫ <b>黑榜</b>:县公安局" in text
    assert "受理不足 5 件、不参与排名:县发展和改革委员会(1 件)" in text
    assert "3. " not in text

    # Reruns later that day and the next day add nothing; after the catch-up window, nothing.
    before = await _ranking_outbox(uow_factory)
    assert len(before) == 3
    for later in (bj(2026, 12, 1, 20), bj(2026, 12, 2, 8, 29), bj(2026, 12, 2, 9)):
        assert not (await sweep(uow_factory, later, config))["ranking"]
    after = await _ranking_outbox(uow_factory)
    assert [(m.idem_key, m.chat_id, m.payload) for m in after] == [
        (m.idem_key, m.chat_id, m.payload) for m in before]


async def test_bulletin_missed_on_monday_is_sent_within_a_day(uow_factory: Any,
                                                              config: DeskConfig) -> None:
    await load_example_org(uow_factory, SUBMIT_AT)
    r = await _once(uow_factory, bj(2026, 12, 1, 8, 29), config)  # Tuesday, before 08:30
    assert len(r["bulletin"]) == 3 and all(k.startswith("bulletin:2026-W48:")
                                           for k in r["bulletin"])
    assert len(r["ranking"]) == 0  # the 1st's ranking is not due before 08:30
    r = await _once(uow_factory, bj(2026, 12, 2, 8, 29), config)
    assert len(r["ranking"]) == 3 and not r["bulletin"]
    assert await chats(uow_factory, r["ranking"]) == {ZHAO, LI, SUN}


async def test_small_batches_cover_every_due_ticket(uow_factory: Any, config: DeskConfig) -> None:
    from scheduler.sweeps import sweep_tickets

    await load_example_org(uow_factory, SUBMIT_AT)
    made = [await submit(uow_factory, SUBMIT_AT, config, category="site") for _ in range(5)]
    keys = await sweep_tickets(uow_factory, bj(2026, 11, 25, 18), config, batch=2)
    assert sorted({int(k.split(":")[1]) for k in keys}) == sorted(t.id for t in made)
    assert len(keys) == 10  # wang and the dispatcher, per ticket
    assert await sweep_tickets(uow_factory, bj(2026, 11, 25, 18), config, batch=2) == []


async def test_unit_without_reachable_officials_falls_back_to_the_dispatcher(
        uow_factory: Any, config: DeskConfig) -> None:
    await _ticket(uow_factory, config)
    async with uow_factory() as uow:
        (await account(uow, "wang")).telegram_id = None  # nobody of 县公安局 has joined
        await uow.commit()
    r = await sweep(uow_factory, bj(2026, 11, 26, 18), config)
    assert await chats(uow_factory, r["before"]) == {ZHAO}
    assert await chats(uow_factory, r["accept"]) == {ZHAO}
