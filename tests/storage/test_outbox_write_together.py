"""The desk's outbox rows are written together: in order, once per key, only if committed.

`OutboxRepo.write_together` (the desk turns it on for every update) holds enqueued rows and
writes them in one executemany before any other outbox statement and at commit. Runs on SQLite
and on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event

from handlers import outmsg
from storage.db import make_engine, make_sessionmaker
from storage.uow import UnitOfWorkFactory

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


async def enqueue(uow: Any, key: str, chat_id: int = 1, ref: str | None = None) -> bool:
    return bool(await uow.outbox.enqueue(idem_key=key, chat_id=chat_id, now=NOW, ref=ref,
                                         payload=outmsg.send(key)))


async def test_rows_are_written_in_order_once_per_key_in_one_statement(database_url: str) -> None:
    engine = make_engine(database_url)
    inserts: list[int] = []

    def count(_conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any,
              many: bool) -> None:
        if statement.startswith("INSERT INTO outbox"):
            inserts.append(len(params) if many else 1)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    factory = UnitOfWorkFactory(make_sessionmaker(engine))
    try:
        async with factory() as uow:
            await enqueue(uow, "earlier")
            await uow.commit()
        inserts.clear()
        async with factory() as uow:
            uow.outbox.write_together()
            for key in ("a", "b", "earlier", "c", "a"):
                await enqueue(uow, key)
            assert inserts == []  # held until commit
            await uow.commit()
        assert inserts == [5]  # one executemany
        async with factory() as uow:
            rows = await uow.outbox.all()
            assert [r.idem_key for r in rows] == ["earlier", "a", "b", "c"]
    finally:
        await engine.dispose()


async def test_held_rows_are_written_before_the_outbox_is_read(uow_factory: Any) -> None:
    async with uow_factory() as uow:
        uow.outbox.write_together()
        await enqueue(uow, "card-1", ref="card:9")
        await enqueue(uow, "card-2", chat_id=2, ref="card:9")
        # notify_cards_refresh reads the cards it must edit within the same transaction
        assert [r.idem_key for r in await uow.outbox.by_ref("card:9")] == ["card-1", "card-2"]
        await enqueue(uow, "after")
        await uow.commit()
    async with uow_factory() as uow:
        assert [r.idem_key for r in await uow.outbox.all()] == ["card-1", "card-2", "after"]


async def test_held_rows_of_a_rolled_back_update_are_never_written(uow_factory: Any) -> None:
    async with uow_factory() as uow:
        uow.outbox.write_together()
        await enqueue(uow, "doomed")
        # no commit: a domain error rolled the update back
    async with uow_factory() as uow:
        assert await uow.outbox.all() == []
        assert await uow.outbox.earliest_pending() is None
