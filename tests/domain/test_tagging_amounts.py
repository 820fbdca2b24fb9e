"""Amounts in 万元: every way people type them, and the quantities that are not money."""

from __future__ import annotations

import pytest

from domain.tagging import parse_amount_wan


@pytest.mark.parametrize(
    ("text", "wan"),
    [
        ("本月完成投资2300万元，主体已封顶", 2300),
        ("贷款1.2亿元还没放", 12000),
        ("缺口六千万元", 6000),
        ("欠款四百五十万", 450),
        ("专项债0.8亿迟迟不到", 8000),
        ("完成投资12500万", 12500),
        ("总投资3.5个亿", 35000),
        ("资金缺口两千五百万", 2500),
        ("工程款1,200万没付", 1200),
        ("工程款1，200万没付", 1200),  # full-width comma typed on a phone
        ("完成投资 800 万", 800),
        ("投了800w", 800),
        ("一亿两千万的项目", 12000),
        ("一亿零五百万", 10500),
        ("1亿2000万", 12000),
        ("欠了80多万", 80),
        ("2000余万元", 2000),
        ("八十来万", 80),
        ("一个亿", 10000),
        ("两个亿", 20000),
        ("一万五", 1.5),
        ("奖励5万元", 5),
        ("补贴5.8万元", 5.8),
        ("0.35亿", 3500),
        ("壹仟万元", 1000),
        ("１２００萬元", 1200),  # full-width digits, traditional 萬
        ("1.2億元", 12000),
        ("迁坟每座3000元", 0.3),
        ("300块钱", 0.03),
        ("补贴80万一直没到账", 80),  # 一直 is a word, not 80万1
    ],
)
def test_amounts_in_wan(text: str, wan: float) -> None:
    assert parse_amount_wan(text) == pytest.approx(wan)


@pytest.mark.parametrize(
    "text",
    [
        "年产10万吨新材料",
        "厂房10万平方米",
        "装机5万千瓦",
        "招了2万人",
        "两三百万吧",  # an estimate, not an amount
        "十几万",
        "十万火急",
        "千万别拖了",
        "万一出事谁负责",
        "三个一批项目",
        "2023年开工",
        "完成年度计划的60%",
        "再拿一块地建仓库",
        "第3万",
        "",
    ],
)
def test_not_amounts(text: str) -> None:
    assert parse_amount_wan(text) is None


def test_amount_reported_done_wins_over_totals_and_plans() -> None:
    assert parse_amount_wan("总投资5亿元，今年已完成投资2亿元") == 20000
    assert parse_amount_wan("累计完成投资1.2亿，本月完成2300万") == 2300
    assert parse_amount_wan("年度计划投资1亿，已完成6000万") == 6000


def test_first_amount_when_none_is_marked() -> None:
    assert parse_amount_wan("拖欠工程款300万，另外还有50万质保金") == 300
    assert parse_amount_wan("每吨300元，总共欠了80万") == 80  # 万 beats a per-ton price
