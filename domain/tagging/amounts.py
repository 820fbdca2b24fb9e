"""Money amounts in messages, normalised to 万元.

People type amounts every way a phone allows: 2300万元, 1.2亿元, 六千万元, 四百五十万, 0.8亿,
12500万, 3.5个亿, 两千五百万, 1,200万, 800w, 一亿两千万, 80多万, 5000元. A small scanner reads
mixed Arabic and Chinese numerals with their units; quantities that use 万 but are not money
(10万平方米, 5万吨, 2万人) are recognised by the measure word that follows and skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from domain.tagging.normalize import normalize

_CN_DIGITS = {
    "零": 0, "〇": 0, "○": 0,
    "一": 1, "壹": 1, "幺": 1,
    "二": 2, "贰": 2, "两": 2, "俩": 2,
    "三": 3, "叁": 3, "仨": 3,
    "四": 4, "肆": 4,
    "五": 5, "伍": 5,
    "六": 6, "陆": 6,
    "七": 7, "柒": 7,
    "八": 8, "捌": 8,
    "九": 9, "玖": 9,
}  # fmt: skip
_SMALL_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_WAN = Decimal(10) ** 4
_YI = Decimal(10) ** 8

_CN_DIGIT_CLASS = "".join(_CN_DIGITS)
# A candidate starts with a digit or a Chinese digit (or 十, as in 十二万); 万/千 alone never
# start one, which keeps 万一 and 千万别 out.
_SPAN = re.compile(
    rf"(?:\d|[{_CN_DIGIT_CLASS}十拾])"
    rf"(?:\d|,\d{{3}}(?!\d)|\.\d|[{_CN_DIGIT_CLASS}十拾百佰千仟万亿点多余来]|个(?=多?亿)| (?=[万亿千百wW])|[wW](?![a-zA-Z]))*"
)
_TOKEN = re.compile(
    rf"(?P<arabic>\d+(?:,\d{{3}})*(?:\.\d+)?)"
    rf"|(?P<cn>[{_CN_DIGIT_CLASS}]+(?:点[{_CN_DIGIT_CLASS}]+)?)"
    r"|(?P<small>[十拾百佰千仟])"
    r"|(?P<big>[万亿wW])"
    r"|(?P<skip>[多余来个点])"
)
# Fixed expressions that contain numerals but no amount.
_IDIOMS = re.compile(r"十万火急|千千万万|万无一失|一五一十|三番五次|七上八下|九牛一毛|一清二楚|三个一批")
# After an amount with 万: these measure words mean it counts something other than money.
_NOT_MONEY_AFTER = re.compile(
    r"\s*(?:左右)?\s*(?:平|亩|吨|瓦|克|人|名|千瓦|kw|KW|kW|伏|v|V|方|立方|台|套|件|株|棵|米|m|公里|km|头|只|户|"
    r"次|辆|册|片|个|条|张|瓶|箱|包|度|kwh|字|年|天|小时|斤|公斤|kg|盏|根|块地|千伏|步|份|粒|支|双)"
)
# 块 is money in 300块钱 or a bare 5000块, but not in 一块地 / 两块钢板.
_MONEY_AFTER = re.compile(
    r"\s*(?:左右)?\s*(?:元|块钱|块(?![\u4e00-\u9fff])|块(?=[的多左一])|人民币|rmb|RMB)"
)
# A Chinese character after a trailing digit that makes it the start of a word instead.
_TRAILING_WORD = re.compile(r"[\u4e00-\u9fff](?<![元块多左的钱])")
# Left context that marks the amount reported as done in this period (preferred) or a total or
# plan (used only when nothing better is there).
_DONE_BEFORE = re.compile(r"(?:完成|实现|到位|投入|落实|拨付了|支付了|花了|投了)[^,，。;；!！?？]{0,8}$")
_TOTAL_BEFORE = re.compile(r"(?:总投资|总投|计划|累计|年度|全年|目标|总额|总共|预计|合同|规划)[^,，。;；!！?？]{0,8}$")


@dataclass(frozen=True, slots=True)
class Amount:
    """One amount found in a text: value in 万元, where it starts, and its unit kind."""

    wan: Decimal
    start: int
    big_unit: bool  # written with 万/亿 (rather than plain 元)


def _parse_cn_number(text: str) -> Decimal | None:
    """A run of Chinese digits: 五 → 5, 二〇二 → 202, 一点二 → 1.2; 两三 (a range) → None."""
    whole, _, frac = text.partition("点")
    digits = [_CN_DIGITS[c] for c in whole]
    if len(digits) > 1 and digits[0] != 0 and 0 not in digits and len(digits) <= 3:
        # 两三, 七八: "two or three" — an estimate, not a number.
        return None
    value = Decimal("".join(str(d) for d in digits))
    if frac:
        value += Decimal("0." + "".join(str(_CN_DIGITS[c]) for c in frac))
    return value


def _evaluate(span: str) -> tuple[Decimal, bool] | None:
    """Value in 元 of a numeral span and whether it used 万/亿; None when it is not a number."""
    total = Decimal(0)
    section = Decimal(0)
    current: Decimal | None = None
    current_cn_single = False
    last_unit: Decimal | None = None
    big_used = False
    for m in _TOKEN.finditer(span):
        kind = m.lastgroup
        tok = m.group()
        if kind == "arabic" or kind == "cn":
            if current is not None:
                return None
            try:
                value = (
                    Decimal(tok.replace(",", "")) if kind == "arabic" else _parse_cn_number(tok)
                )
            except InvalidOperation:
                return None
            if value is None:
                return None
            current = value
            current_cn_single = (kind == "cn" and len(tok) == 1) or (
                kind == "arabic" and len(tok) == 1
            )
        elif kind == "small":
            unit = Decimal(_SMALL_UNITS[tok])
            section += (current if current is not None else Decimal(1)) * unit
            current = None
            last_unit = unit
        elif kind == "big":
            unit = _YI if tok == "亿" else _WAN
            if tok in "wW" and (current is None or section):
                return None
            base = section + (current if current is not None else Decimal(0))
            if base == 0:
                return None
            if unit == _YI:
                total = (total + base) * _YI
                section = Decimal(0)
            else:
                section = base * _WAN
            current = None
            last_unit = unit
            big_used = True
        # skip tokens (多/余/来/个) carry no value
    if current is not None:
        if last_unit is not None and current_cn_single and last_unit >= 100:
            # 一万五 = 15000, 两千五 = 2500: a lone digit after a unit is the next unit down.
            current = current * last_unit / 10
        section += current
    value = total + section
    if value <= 0:
        return None
    return value, big_used


def find_amounts(text: str) -> list[Amount]:
    """Every money amount in an already normalised text, in order of appearance."""
    if not _has_amount_hint(text):
        return []
    masked = _IDIOMS.sub(lambda m: "□" * len(m.group()), text)
    found: list[Amount] = []
    for m in _SPAN.finditer(masked):
        span = m.group().rstrip("点,")
        start, end = m.start(), m.start() + len(span)
        if (
            len(span) >= 3
            and span[-1] in _CN_DIGITS
            and span[-2] in "万亿千百"
            and _TRAILING_WORD.match(masked, end)
        ):
            # 80万一直没到: the 一 begins the next word, it is not 80万1 (80.1万).
            span = span[:-1]
            end -= 1
        before = masked[start - 1] if start else ""
        if before == "第" or (before.isascii() and before.isalpha()):
            continue  # 第三, A3 — ordinals and codes, not amounts
        parsed = _evaluate(span)
        if parsed is None:
            continue
        value, big_used = parsed
        rest = masked[end:]
        if _MONEY_AFTER.match(rest):
            found.append(Amount(_round(value / _WAN), start, big_used))
        elif big_used and not _NOT_MONEY_AFTER.match(rest):
            found.append(Amount(_round(value / _WAN), start, True))
    return found


def _has_amount_hint(text: str) -> bool:
    return any(c in text for c in "万亿元块wW")


def _round(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.0001")).normalize()


def is_done_amount(text: str, amount: Amount) -> bool:
    """Whether the amount is introduced as done (完成投资…), the mark of a progress report."""
    return bool(_DONE_BEFORE.search(text, 0, amount.start))


def choose_amount(text: str, amounts: list[Amount]) -> Amount | None:
    """The amount the message is about.

    Progress reports often give several (总投资5亿, 计划8000万, 本月完成2300万); the one reported as
    done this period is what the progress ledger needs, so it wins; then any amount not
    introduced as a total or plan; then the first. Amounts with 万/亿 beat small plain-元 figures
    such as a per-ton price.
    """
    if not amounts:
        return None
    big = [a for a in amounts if a.big_unit]
    pool = big or amounts
    done = [
        a
        for a in pool
        if _DONE_BEFORE.search(text, 0, a.start) and not _TOTAL_BEFORE.search(text, 0, a.start)
    ]
    if done:
        return done[0]
    plain = [a for a in pool if not _TOTAL_BEFORE.search(text, 0, a.start)]
    if plain:
        return plain[0]
    return pool[0]


def parse_amount_wan(text: str) -> float | None:
    """The amount a message is about, in 万元 (2300万元 → 2300.0, 1.2亿 → 12000.0), or None."""
    normal = normalize(text)
    chosen = choose_amount(normal, find_amounts(normal))
    return None if chosen is None else float(chosen.wan)
