"""/overdue: officials see their unit's overdue tickets, leaders their projects', admins all."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import Forbidden
from handlers.config import DeskConfig
from handlers.reminders import OVERDUE_FORBIDDEN, OVERDUE_NONE, overdue_header, overdue_list
from tests.factories import ctx_for, load_example_org, submit
from tests.scheduler.conftest import bj


async def _as(uow_factory: Any, who: str, at: Any, config: DeskConfig) -> str:
    async with uow_factory() as uow:
        return await overdue_list(await ctx_for(uow, who, at, config))


async def test_overdue_lists_by_role(uow_factory: Any, config: DeskConfig) -> None:
    at = bj(2026, 11, 24, 9)
    await load_example_org(uow_factory, at)
    site = await submit(uow_factory, at, config, category="site",
                        text="工地门口有人<阻工>,车辆进不去")
    land = await submit(uow_factory, at, config, category="land")  # due in 15 working days
    other = await submit(uow_factory, at, config, by="yang", project_code="P2026-002",
                         category="approval")  # due Thu 3 Dec
    now = bj(2026, 12, 7, 10)  # Monday: site 6, approval 2 working days overdue

    wang = await _as(uow_factory, "wang", now, config)  # gaj official
    assert wang.startswith(overdue_header(1, 1))
    assert f"#{site.number}" in wang and "超期 <b>6</b> 个工作日" in wang
    assert "&lt;阻工&gt;" in wang and "<阻工>" not in wang  # user text is escaped
    assert f"#{land.number}" not in wang

    li = await _as(uow_factory, "li", now, config)  # leader of P2026-001
    assert f"#{site.number}" in li and f"#{other.number}" not in li
    sun = await _as(uow_factory, "sun", now, config)  # leader of P2026-002
    assert f"#{other.number}" in sun and f"#{site.number}" not in sun

    zhao = await _as(uow_factory, "zhao", now, config)  # admin: everything, most overdue first
    assert zhao.startswith(overdue_header(2, 2))
    assert zhao.index(site.number) < zhao.index(other.number)

    assert await _as(uow_factory, "qian", now, config) == OVERDUE_NONE
    with pytest.raises(Forbidden) as err:
        await _as(uow_factory, "han", now, config)
    assert err.value.message == OVERDUE_FORBIDDEN


async def test_overdue_command_through_the_desk(uow_factory: Any, config: DeskConfig) -> None:
    from domain.clock import FrozenClock
    from handlers.desk import Desk
    from handlers.reminders import register
    from tests.dialog import Dialog
    from tests.scheduler.conftest import HAN, WANG
    from tests.scheduler.test_dialog_reminders import NoTagger

    at = bj(2026, 11, 24, 9)
    await load_example_org(uow_factory, at)
    site = await submit(uow_factory, at, config, category="site")
    dialog = Dialog(uow_factory, FrozenClock(bj(2026, 12, 1, 10)), config, NoTagger())
    assert isinstance(dialog.desk, Desk)
    register(dialog.desk)
    await dialog.say(WANG, "/overdue")
    assert f"#{site.number}" in dialog.last(WANG).text
    await dialog.say(HAN, "/overdue")
    assert dialog.last(HAN).text == OVERDUE_FORBIDDEN
