"""How many SQL statements the desk runs for the updates of the report flow (SQLite and
PostgreSQL): a ceiling that fails when a redundant statement comes back — a row selected again
after the identity map let it go, the ORM writing a second UPDATE after a compare-and-set, the
actor's memberships read again for their own card."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import event

from handlers.inbound import Inbound, Outbound
from storage.uow import UnitOfWorkFactory
from tests.dialog import Dialog
from tests.handlers.conftest import HAN, ZHOU

HV_LINE = "我们园区北侧的高压线迁改一直没人对接,影响厂房基础施工,麻烦尽快协调供电公司"

# The counts when this test was written (BEGIN not counted).
SUBMIT_MOST = 14
ACCEPT_MOST = 12

Statement = tuple[str, str]  # (SQL on one line, its parameters)


async def desk_statements(dialog: Dialog, uow_factory: UnitOfWorkFactory,
                          monkeypatch: pytest.MonkeyPatch,
                          act: Callable[[], Awaitable[Outbound]]) -> list[Statement]:
    """The statements of the desk's own transaction for `act`'s update (not the outbox
    sender's, which the dialog runs after it)."""
    seen: list[Statement] = []
    recording = False

    def before(_conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any,
               _many: bool) -> None:
        sql = " ".join(statement.split())
        if recording and not sql.startswith("BEGIN"):
            seen.append((sql, repr(params)))

    handle = dialog.desk.handle

    async def recorded(inb: Inbound, **kw: Any) -> Outbound:
        nonlocal recording
        recording = True
        try:
            return await handle(inb, **kw)
        finally:
            recording = False

    engine = uow_factory.sessionmaker.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", before)
    monkeypatch.setattr(dialog.desk, "handle", recorded)
    try:
        await act()
    finally:
        monkeypatch.undo()
        event.remove(engine, "before_cursor_execute", before)
    return seen


def repeated_selects(stmts: list[Statement]) -> list[str]:
    """SELECTs run more than once with the same parameters in one update."""
    selects = [s for s in stmts if s[0].startswith("SELECT")]
    return [sql[:120] for sql, params in {s for s in selects if selects.count(s) > 1}]


async def test_submit_and_accept_run_no_redundant_statements(
        dialog: Dialog, uow_factory: UnitOfWorkFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    await dialog.say(HAN, HV_LINE)

    submit = await desk_statements(dialog, uow_factory, monkeypatch,
                                   lambda: dialog.press(HAN, "提交"))
    assert "诉求编号" in dialog.last(HAN).text
    assert repeated_selects(submit) == []
    assert len(submit) <= SUBMIT_MOST, "\n".join(sql[:120] for sql, _ in submit)

    accept = await desk_statements(dialog, uow_factory, monkeypatch,
                                   lambda: dialog.press(ZHOU, "受理"))
    assert "受理" in dialog.last(HAN).text
    assert repeated_selects(accept) == []
    ticket_updates = [sql for sql, _ in accept if sql.startswith("UPDATE tickets")]
    # Only the compare-and-set: the ORM does not write the same change again.
    assert len(ticket_updates) == 1 and "tickets.status =" in ticket_updates[0], ticket_updates
    assert len([sql for sql, _ in accept if "FROM tickets" in sql]) == 1
    assert len(accept) <= ACCEPT_MOST, "\n".join(sql[:120] for sql, _ in accept)
