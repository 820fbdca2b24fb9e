"""The problem ledger (问题台账) export: columns, rows, masking, formula escaping, summary."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from domain.stats import Period
from handlers import stats_texts as T
from handlers.ledger import LedgerFilters, export_ledger, mask_phone, overdue_days
from handlers.texts import status_name
from tests.storage.test_stats_queries import FORMULA_TEXTS, NOVEMBER, NOW, SH, L, seed_desk


async def _export(uow_factory: Any, path: Path, filters: LedgerFilters | None = None,
                  reveal: bool = False) -> int:
    async with uow_factory() as uow:
        return await export_ledger(uow, path, filters, NOW, SH, reveal_phones=reveal)


def _rows(path: Path, sheet: str) -> list[dict[str, Any]]:
    wb = load_workbook(path)
    ws = wb[sheet]
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_mask_phone() -> None:
    assert mask_phone("13812341111") == "138****1111"
    assert mask_phone(None) == ""
    assert mask_phone("1234") == "****"
    assert mask_phone("12345") == "1**45"


def test_overdue_days_counts_working_days() -> None:
    assert overdue_days(L(23, 18), L(24, 9), SH) == 1
    assert overdue_days(L(19, 18), L(24, 9), SH) == 3  # Fri 20, Mon 23, Tue 24
    assert overdue_days(L(13, 18), L(14, 9), SH) == 1  # into the weekend: a started day
    assert overdue_days(L(23, 18), L(23, 17), SH) == 0


async def test_columns_rows_and_values(uow_factory: Any, tmp_path: Path) -> None:
    await seed_desk(uow_factory)
    path = tmp_path / "ledger.xlsx"
    assert await _export(uow_factory, path) == 14
    wb = load_workbook(path)
    assert wb.sheetnames == [T.LEDGER_SHEET, T.SUMMARY_SHEET]
    header = next(wb[T.LEDGER_SHEET].iter_rows(values_only=True))
    assert header == (
        "编号", "项目名称", "问题类别", "问题描述", "反映人", "联系电话", "反映时间", "分包领导",
        "责任单位", "办理时限", "状态", "办理结果", "办结时间", "是否超期", "超期天数", "回访时间",
        "满意度", "销号时间")
    rows = _rows(path, T.LEDGER_SHEET)
    assert len(rows) == 14
    assert len({r["编号"] for r in rows}) == 14
    by_text = {r["问题描述"]: r for r in rows}
    t1 = by_text[FORMULA_TEXTS["T1"]]
    assert t1["项目名称"] == "新能源电池产业园"
    assert t1["问题类别"] == "用地保障"
    assert t1["反映人"] == "=张经理"
    assert t1["联系电话"] == "138****1111"
    assert t1["反映时间"] == "2026-11-02 10:00"  # local time, not UTC
    assert t1["分包领导"] == "王县长"
    assert t1["责任单位"] == "县自然资源局"
    assert t1["办理时限"] == "2026-11-09 18:00"
    assert t1["状态"] == status_name("closed")
    assert t1["办理结果"] == "=1+1"
    assert t1["办结时间"] == "2026-11-04 10:00"
    assert (t1["是否超期"], t1["超期天数"]) == ("否", 0)
    assert t1["回访时间"] == "2026-11-04 12:00"
    assert t1["满意度"] == "满意"
    assert t1["销号时间"] == "2026-11-04 12:00"
    t2 = by_text[FORMULA_TEXTS["T2"]]
    assert (t2["是否超期"], t2["超期天数"], t2["满意度"]) == ("是", 1, T.UNRATED)
    t3 = by_text[FORMULA_TEXTS["T3"]]
    assert (t3["是否超期"], t3["超期天数"], t3["满意度"], t3["办结时间"]) == ("是", 3, "不满意", None)
    t6 = by_text[FORMULA_TEXTS["T6"].replace("\r", "\n")]  # XML reads a CR back as LF
    assert t6["满意度"] == T.UNRATED_CLOSED
    t4 = by_text[FORMULA_TEXTS["T4"]]
    assert (t4["是否超期"], t4["满意度"], t4["销号时间"]) == ("否", None, None)


async def test_no_formula_cells(uow_factory: Any, tmp_path: Path) -> None:
    await seed_desk(uow_factory)
    path = tmp_path / "ledger.xlsx"
    await _export(uow_factory, path)
    wb = load_workbook(path)
    texts = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    texts.add(cell.value)
                    if cell.value.startswith(("=", "+", "-", "@", "\t", "\r")):
                        assert cell.quotePrefix, cell.coordinate
    # Text is kept exactly as written (no apostrophe added).
    for text in FORMULA_TEXTS.values():
        assert text in texts or text.replace("\r", "\n") in texts
    # And the file itself carries no formula element at all.
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in z.read(name) and b"<f " not in z.read(name)


async def test_reveal_phones(uow_factory: Any, tmp_path: Path) -> None:
    await seed_desk(uow_factory)
    path = tmp_path / "ledger.xlsx"
    await _export(uow_factory, path, reveal=True)
    assert {r["联系电话"] for r in _rows(path, T.LEDGER_SHEET)} == {"13812341111"}


@pytest.mark.parametrize(("filters", "expected"), [
    (LedgerFilters(period=NOVEMBER), 13),
    (LedgerFilters(period=Period(None, None), status="closed"), 9),
    (LedgerFilters(status="submitted"), 2),
])
async def test_filters(uow_factory: Any, tmp_path: Path, filters: LedgerFilters,
                       expected: int) -> None:
    await seed_desk(uow_factory)
    path = tmp_path / "ledger.xlsx"
    assert await _export(uow_factory, path, filters) == expected
    assert len(_rows(path, T.LEDGER_SHEET)) == expected


async def test_unit_filter_and_summary(uow_factory: Any, tmp_path: Path) -> None:
    ids = await seed_desk(uow_factory)
    path = tmp_path / "gdj.xlsx"
    n = await _export(uow_factory, path, LedgerFilters(period=NOVEMBER, unit_id=ids.units["gdj"]))
    assert n == 5
    summary = _rows(path, T.SUMMARY_SHEET)
    assert summary[0][T.UNIT] == "县供电公司" and summary[0][T.SUBMITTED] == 5
    assert summary[1][T.UNIT] == T.TOTAL


async def test_summary_sheet_figures(uow_factory: Any, tmp_path: Path) -> None:
    await seed_desk(uow_factory)
    path = tmp_path / "ledger.xlsx"
    await _export(uow_factory, path, LedgerFilters(period=NOVEMBER))
    wb = load_workbook(path)
    header = next(wb[T.SUMMARY_SHEET].iter_rows(values_only=True))
    assert header == T.SUMMARY_COLUMNS
    rows = {r[T.UNIT]: r for r in _rows(path, T.SUMMARY_SHEET) if r[T.UNIT]}
    assert set(rows) == {"县自然资源局", "县供电公司", "县发改委", T.TOTAL}
    z = rows["县自然资源局"]
    assert z[T.SUBMITTED] == 7
    assert z[T.RESOLUTION_RATE] == pytest.approx(4 / 7)
    assert z[T.ON_TIME_RATE] == pytest.approx(0.8)
    assert z[T.SATISFACTION_RATE] == pytest.approx(2 / 3)
    assert (z[T.RATED], z[T.UNRATED], z[T.OVERDUE_OPEN]) == (3, 2, 2)
    assert z[T.MEDIAN_DAYS] == 2.0 and z[T.MEAN_DAYS] == 4.0
    assert rows["县发改委"][T.ON_TIME_RATE] is None  # no denominator: left empty
    total = rows[T.TOTAL]
    assert total[T.SUBMITTED] == 13 and total[T.SATISFACTION_RATE] == pytest.approx(7 / 8)
    # Percent format on the rate columns.
    ws = wb[T.SUMMARY_SHEET]
    col = T.SUMMARY_COLUMNS.index(T.RESOLUTION_RATE) + 1
    assert ws.cell(row=2, column=col).number_format == "0.0%"
