"""/stats summary, monthly ranking, weekly bulletin and the chat commands, on the seeded desk."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from domain.errors import Forbidden, InvalidInput
from domain.permissions import Actor
from domain.stats import Period, RankingRules, Scope
from handlers import stats_texts as T
from handlers.config import DeskConfig
from handlers.context import Ctx
from handlers.stats import (
    cmd_dashboard,
    cmd_export,
    cmd_stats,
    dashboard_session_valid,
    issue_dashboard_login,
    monthly_ranking,
    parse_period,
    redeem_dashboard_login,
    scope_for_actor,
    stats_summary,
    weekly_bulletin,
)
from storage.models import Account
from tests.storage.test_stats_queries import NOVEMBER, NOW, SH, seed_desk

TODAY = date(2026, 11, 24)


def test_parse_period() -> None:
    assert parse_period("", TODAY) == Period(date(2026, 11, 1), TODAY)
    assert parse_period("上月", TODAY) == Period(date(2026, 10, 1), date(2026, 10, 31))
    assert parse_period("本周", TODAY) == Period(date(2026, 11, 23), TODAY)
    assert parse_period("上周", TODAY) == Period(date(2026, 11, 16), date(2026, 11, 22))
    assert parse_period("2026-02", TODAY) == Period(date(2026, 2, 1), date(2026, 2, 28))
    assert parse_period("2026-11-01 2026-11-15", TODAY) == Period(date(2026, 11, 1),
                                                                  date(2026, 11, 15))
    assert parse_period("全部", TODAY) == Period()
    for bad in ("明年", "2026-13", "2026-11-15 2026-11-01", "a b c"):
        with pytest.raises(InvalidInput):
            parse_period(bad, TODAY)


def test_scope_for_actor() -> None:
    assert scope_for_actor(Actor(1, frozenset({"admin"}))) == Scope.all()
    assert scope_for_actor(Actor(2, frozenset({"official"}), unit_id=5,
                                 unit_is_dispatcher=True)) == Scope.all()
    assert scope_for_actor(Actor(3, frozenset({"official"}), unit_id=5)) == Scope.unit(5)
    assert scope_for_actor(Actor(4, frozenset({"leader"}),
                                 leader_project_ids=frozenset({9}))) == Scope.leader(4)
    assert scope_for_actor(Actor(5, frozenset({"enterprise"}),
                                 contact_project_ids=frozenset({9}))) is None


async def test_summary_text(uow_factory: Any) -> None:
    ids = await seed_desk(uow_factory)
    async with uow_factory() as uow:
        text = await stats_summary(uow, Scope.all(), NOVEMBER, NOW, SH)
        assert "统计 · 全县" in text
        assert "受理 <b>13</b> 件" in text
        assert "响应率 83.3%" in text and "办结率 69.2%" in text
        assert "按期办结率 90.0%" in text and "满意率 87.5%(已评价 8,未评价 2)" in text
        assert "重办率 10.0%" in text and "超期未办结 <b>2</b> 件" in text
        assert "中位 1.5 / 平均 2.5" in text
        assert "县自然资源局:7 / 57.1% / 80.0% / 66.7% / 2" in text
        unit = await stats_summary(uow, Scope.unit(ids.units["gdj"]), NOVEMBER, NOW, SH)
        assert "统计 · 县供电公司" in unit and "受理 <b>5</b> 件" in unit
        assert T.UNITS_HEAD not in unit
        leader = await stats_summary(uow, Scope.leader(ids.leaders["L1"]), NOVEMBER, NOW, SH)
        assert "王县长 分包项目" in leader and "受理 <b>7</b> 件" in leader
        empty = await stats_summary(uow, Scope.all(), Period(date(2025, 1, 1),
                                                             date(2025, 1, 31)), NOW, SH)
        assert "受理 <b>0</b> 件 · 响应率 — · 办结率 —" in empty


async def test_monthly_ranking(uow_factory: Any) -> None:
    await seed_desk(uow_factory)
    async with uow_factory() as uow:
        # Run on 1 December: ranks November.
        text, ranking = await monthly_ranking(uow, NOW + timedelta(days=7), SH)
    assert ranking.rules.min_sample == 5
    assert [(r.unit.code, r.rank) for r in ranking.ranked] == [("gdj", 1), ("zrzy", 2)]
    assert ranking.ranked[0].score == pytest.approx(100.0)
    assert [r.unit.code for r in ranking.unranked] == ["fgw"]
    assert "2026年11月" in text
    assert "1. 县供电公司 <b>100.0</b> 分" in text
    assert "🔴 <b>红榜</b>:县供电公司" in text
    assert "⚫ <b>黑榜</b>:县自然资源局" in text
    assert "受理不足 5 件、不参与排名:县发改委(1 件)" in text
    # Configurable: a lower minimum sample ranks the small unit too.
    async with uow_factory() as uow:
        _, r2 = await monthly_ranking(uow, NOW, SH, RankingRules(min_sample=1), NOVEMBER)
    assert len(r2.ranked) == 3 and r2.unranked == []


async def test_weekly_bulletin_with_ledger(uow_factory: Any, tmp_path: Path) -> None:
    await seed_desk(uow_factory)
    path = tmp_path / "bulletin.xlsx"
    async with uow_factory() as uow:
        # Monday 23 Nov 09:00: the bulletin covers 16–22 Nov.
        text = await weekly_bulletin(uow, NOW - timedelta(days=1), SH, path)
    assert "周通报" in text and "2026-11-16 至 2026-11-22" in text
    assert "上周受理 <b>7</b> 件,目前已办结 5 件" in text
    assert "超期未办结 <b>1</b> 件" in text  # on Monday morning only T3 is past due
    assert "县自然资源局:1 件" in text
    assert load_workbook(path)[T.LEDGER_SHEET].max_row == 15


def _head(path: Path) -> bytes:
    return path.read_bytes()[:4]


def _ctx(uow: Any, account: Account, actor: Actor, update_id: int = 1) -> Ctx:
    return Ctx(uow, NOW, DeskConfig(timezone=SH), update_id=update_id, chat_id=555,
               account=account, actor=actor)


async def test_commands_reply_with_text_and_files(uow_factory: Any, tmp_path: Path) -> None:
    ids = await seed_desk(uow_factory)
    async with uow_factory() as uow:
        admin = Account(name="管理员", roles=["admin"], telegram_id=555, created_at=NOW)
        uow.session.add(admin)
        await uow.session.flush()
        actor = Actor(admin.id, frozenset({"admin"}))
        await cmd_stats(_ctx(uow, admin, actor, 1), "2026-11", tmp_path)
        await cmd_export(_ctx(uow, admin, actor, 2), "", tmp_path)
        await cmd_dashboard(_ctx(uow, admin, actor, 3), "", "http://tv.local:8080/")
        await uow.commit()
    async with uow_factory() as uow:
        payloads = [m.payload for m in await uow.outbox.all()]
    assert "受理 <b>13</b> 件" in payloads[0]["text"]
    assert _head(Path(payloads[1]["photo_path"])) == b"\x89PNG"
    ledger = Path(payloads[2]["document"]["path"])
    assert load_workbook(ledger)[T.LEDGER_SHEET].max_row == 15
    assert "14 条" in payloads[2]["text"]
    assert "http://tv.local:8080/login?t=" in payloads[3]["text"]

    # An official sees the own unit only; an enterprise contact gets no statistics.
    async with uow_factory() as uow:
        official = Account(name="干部", roles=["official"], telegram_id=556, created_at=NOW,
                           unit_id=ids.units["gdj"])
        uow.session.add(official)
        await uow.session.flush()
        o_actor = Actor(official.id, frozenset({"official"}), unit_id=ids.units["gdj"])
        await cmd_export(_ctx(uow, official, o_actor, 4), "", tmp_path)
        with pytest.raises(Forbidden):
            await cmd_dashboard(_ctx(uow, official, o_actor, 5), "", "http://x")
        e_actor = Actor(official.id, frozenset({"enterprise"}))
        with pytest.raises(Forbidden):
            await cmd_stats(_ctx(uow, official, e_actor, 6), "", tmp_path)
        await uow.commit()
        last = (await uow.outbox.all())[-1].payload
    assert load_workbook(last["document"]["path"])[T.LEDGER_SHEET].max_row == 6


async def test_login_tokens_are_single_use_and_expire(uow_factory: Any) -> None:
    async with uow_factory() as uow:
        admin = Account(name="管理员", roles=["admin"], created_at=NOW)
        uow.session.add(admin)
        await uow.session.flush()
        token = await issue_dashboard_login(uow, NOW, timedelta(minutes=10), admin.id)
        await uow.commit()
    async with uow_factory() as uow:
        assert await redeem_dashboard_login(uow, token, NOW + timedelta(minutes=11)) is None
        session = await redeem_dashboard_login(uow, token, NOW + timedelta(minutes=1))
        assert session is not None
        assert await redeem_dashboard_login(uow, token, NOW + timedelta(minutes=2)) is None
        await uow.commit()
    later: datetime = NOW + timedelta(days=1)
    async with uow_factory() as uow:
        assert await dashboard_session_valid(uow, session, later)
        assert not await dashboard_session_valid(uow, session + "x", later)
        assert not await dashboard_session_valid(uow, session, NOW + timedelta(days=31))
        # The admin loses the role: the session ends.
        person = await uow.accounts.get(admin.id)
        assert person is not None
        person.roles = ["official"]
        await uow.commit()
    async with uow_factory() as uow:
        assert not await dashboard_session_valid(uow, session, later)
