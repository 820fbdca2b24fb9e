"""Concurrency: ticket numbers stay unique and the first of two presses wins.

Each submission or press runs in its own session and transaction (as separate updates in
separate processes would). On PostgreSQL the transactions really overlap — a barrier holds
them all open before they write; on SQLite, writers queue on the database lock (BEGIN IMMEDIATE
with a busy timeout) and the same guarantees must hold.
"""

from __future__ import annotations

import asyncio

from domain.clock import FrozenClock
from domain.errors import AlreadyDone
from handlers.config import DeskConfig
from handlers.tickets import check_accept, check_submit
from storage.models import Ticket
from tests.factories import ctx_for, load_example_org, make_uow_factory, project, submit

N = 50


def is_postgres(url: str) -> bool:
    return url.startswith("postgres")


async def test_fifty_concurrent_submissions_get_fifty_distinct_numbers(
    database_url: str, clock: FrozenClock, config: DeskConfig
) -> None:
    engine, uow_factory = make_uow_factory(database_url, pool_size=N, max_overflow=0)
    try:
        await load_example_org(uow_factory, clock.now())
        pg = is_postgres(database_url)
        barrier = asyncio.Barrier(N)
        reporters = ["han", "feng", "zhao"]

        async def one(i: int) -> str:
            async with uow_factory() as uow:
                who = reporters[i % len(reporters)]
                ctx = await ctx_for(uow, who, clock.now(), config)
                proj = await project(uow, "P2026-001")
                han = await uow.accounts.by_key("han")
                assert han is not None
                if pg:
                    await barrier.wait()  # all 50 transactions open at once
                t = await check_submit(ctx, project=proj, reporter=han, text=f"问题 {i}",
                                       category_code="land", urgent=False)
                await uow.commit()
                return t.number

        numbers = await asyncio.gather(*(one(i) for i in range(N)))
        assert len(set(numbers)) == N
        assert sorted(numbers) == [f"20261124-{i:03d}" for i in range(1, N + 1)]
        async with uow_factory() as uow:
            stored = await uow.tickets.all()
            assert sorted(t.number for t in stored) == sorted(numbers)
            events = [await uow.tickets.events(t.id) for t in stored]
            assert all(len(e) == 1 and e[0].action == "submit" for e in events)
    finally:
        await engine.dispose()


async def test_two_concurrent_accepts_exactly_one_wins(
    database_url: str, clock: FrozenClock, config: DeskConfig
) -> None:
    engine, uow_factory = make_uow_factory(database_url)
    try:
        await load_example_org(uow_factory, clock.now())
        pg = is_postgres(database_url)
        for _ in range(3):
            ticket = await submit(uow_factory, clock.now(), config)
            barrier = asyncio.Barrier(2)

            async def press(who: str, t: Ticket = ticket, b: asyncio.Barrier = barrier) -> str:
                async with uow_factory() as uow:
                    ctx = await ctx_for(uow, who, clock.now(), config)
                    await uow.tickets.get(t.id)  # both read it as 待受理
                    if pg:
                        await b.wait()
                    try:
                        await check_accept(ctx, t.id)
                    except AlreadyDone:
                        return "already done"
                    await uow.commit()
                    return who

            outcomes = await asyncio.gather(press("qian"), press("zhao"))
            winners = [o for o in outcomes if o != "already done"]
            assert len(winners) == 1, outcomes
            assert outcomes.count("already done") == 1
            async with uow_factory() as uow:
                stored = await uow.tickets.get(ticket.id)
                assert stored is not None and stored.status == "in_progress"
                winner = await uow.accounts.by_key(winners[0])
                assert winner is not None and stored.accepted_by_id == winner.id
                actions = [e.action for e in await uow.tickets.events(ticket.id)]
                assert actions == ["submit", "accept"]
                keys = [m.idem_key for m in await uow.outbox.all()
                        if m.idem_key.startswith(f"accepted:{ticket.id}:")]
                assert len(keys) == 1
    finally:
        await engine.dispose()


async def test_concurrent_submissions_on_different_days_restart_the_sequence(
    database_url: str, clock: FrozenClock, config: DeskConfig
) -> None:
    engine, uow_factory = make_uow_factory(database_url)
    try:
        await load_example_org(uow_factory, clock.now())
        today = clock.now()
        tomorrow = FrozenClock(today.replace(day=today.day + 1))

        async def one(c: FrozenClock) -> str:
            return (await submit(uow_factory, c.now(), config)).number

        numbers = await asyncio.gather(*(one(clock if i % 2 else tomorrow) for i in range(10)))
        assert sorted(numbers) == sorted(
            [f"20261124-{i:03d}" for i in range(1, 6)] + [f"20261125-{i:03d}" for i in range(1, 6)])
    finally:
        await engine.dispose()
