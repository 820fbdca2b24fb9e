"""A small desk built through chat — one ticket closed 满意, one reopened after 不满意, one open —
then /stats, /export and the statistics checked against the hand-computed figures."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from domain.stats import Scope
from handlers import stats_texts as T
from handlers.stats import register
from storage.stats_queries import query_stats
from tests.dialog import Dialog
from tests.handlers.conftest import HAN, LI, QIAN, ZHAO, ZHOU

HV_LINE = "我们园区北侧的高压线迁改一直没人对接,影响厂房基础施工,麻烦尽快协调供电公司"
LAND = "企业反映土地出让手续迟迟没有办完,用地指标还没下达"
THIRD = "=招工难,园区缺少职工宿舍,希望协调解决员工住房问题"


@pytest.fixture(scope="module")
def tagger() -> object:
    from domain.tagging import Tagger

    t = Tagger(extra_words=("县供电公司", "县自然资源局"))
    t.initialize()
    return t


def _newest(folder: Path, pattern: str) -> str:
    return str(sorted(folder.glob(pattern))[-1])


def _xlsx(path: str) -> tuple[list[tuple[object, ...]], list[str], set[str]]:
    wb = load_workbook(path)
    rows = list(wb[T.LEDGER_SHEET].iter_rows(values_only=True))
    types = {c.data_type for ws in wb.worksheets for row in ws.iter_rows() for c in row}
    return rows, wb.sheetnames, types


async def test_stats_of_a_desk_built_through_chat(dialog: Dialog, uow_factory: object,
                                                  tmp_path: Path) -> None:
    register(dialog.desk, tmp_path, "http://tv.example:8080")
    # 1. closed 满意
    await dialog.say(HAN, HV_LINE)
    await dialog.press(HAN, "提交")
    await dialog.press(ZHOU, "受理")
    await dialog.press(ZHOU, "办结")
    await dialog.say(ZHOU, "已完成迁改对接")
    await dialog.press(HAN, "满意")
    # 2. reopened after 不满意
    await dialog.say(HAN, LAND)
    await dialog.press(HAN, "提交")
    await dialog.press(QIAN, "受理")
    await dialog.press(QIAN, "办结")
    await dialog.say(QIAN, "已上报用地指标")
    await dialog.press(HAN, "不满意")
    await dialog.say(HAN, "指标还没有下达")
    assert "不满意" in dialog.last(LI).text
    # 3. open
    await dialog.say(HAN, THIRD)
    await dialog.press(HAN, "提交")

    async with uow_factory() as uow:  # type: ignore[operator]
        report = await query_stats(uow.session, now=dialog.clock.now(), tz=dialog.desk.config
                                   .timezone, scope=Scope.all())
    f = report.totals
    assert f.submitted == 3
    assert f.response_rate == 1.0  # both accepted in time; the third's deadline is ahead
    assert f.resolution_rate == pytest.approx(1 / 3)
    assert f.on_time_rate == 1.0
    assert (f.satisfaction_rate, f.rated, f.unrated) == (0.5, 2, 0)
    assert f.reopen_rate == 0.5
    assert f.overdue_open == 0
    assert f.median_days == 0.0 and f.mean_days == 0.0  # resolved within the frozen minute
    assert sum(u.figures.submitted for u in report.by_unit) == 3

    await dialog.say(ZHAO, "/stats")
    summary, chart = dialog.messages(ZHAO)[-2:]
    assert "受理 <b>3</b> 件" in summary.text and "满意率 50.0%(已评价 2,未评价 0)" in summary.text
    assert T.CHART_CAPTION.format(weeks=8) in chart.text

    await dialog.say(ZHAO, "/export")
    assert "3 条" in dialog.last(ZHAO).text
    rows, sheets, types = _xlsx(_newest(tmp_path, "exports/ledger-*.xlsx"))
    assert sheets == [T.LEDGER_SHEET, T.SUMMARY_SHEET]
    assert rows[0] == T.LEDGER_COLUMNS and len(rows) == 4
    assert "f" not in types
    assert THIRD in {r[3] for r in rows}
    assert {r[5] for r in rows[1:]} == {"138****1111"}

    await dialog.say(ZHAO, "/dashboard")
    assert "http://tv.example:8080/login?t=" in dialog.last(ZHAO).text
    # Enterprises get no statistics.
    await dialog.say(HAN, "/stats")
    assert T.STATS_FORBIDDEN in dialog.last(HAN).text
