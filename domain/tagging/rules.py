"""Hand-written rules: category keywords, urgency, milestones, intent cues.

Rules see the normalised text (simplified, half-width). They are precise on their own terms and
say nothing about what they do not recognise; the learned model does the rest.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

from domain.tagging.lexicon import NEUTRAL, STRONG, WEAK
from domain.tagging.trie import LongestMatch

# Clause boundaries: negation and tense are judged inside one clause only.
_CLAUSE_SPLIT = re.compile(r"[,.;!?、，。；！？\n]+|\s{2,}")


def _keyword_table() -> dict[str, tuple[str, str]]:
    table: dict[str, tuple[str, str]] = {}
    for tier, source in (("w", WEAK), ("s", STRONG)):  # strong wins on a clash
        for category, words in source.items():
            for word in words:
                table[word] = (tier, category)
    for word in NEUTRAL:
        table[word] = ("n", "")
    return table


_KEYWORDS = _keyword_table()
_KEYWORD_SCAN = LongestMatch(_KEYWORDS)


@dataclass(frozen=True, slots=True)
class KeywordHit:
    word: str
    category: str
    strong: bool


def keyword_hits(text: str) -> list[KeywordHit]:
    """Category keywords in the text, longest match at each position, in order."""
    hits: list[KeywordHit] = []
    for _, word in _KEYWORD_SCAN.find(text):
        tier, category = _KEYWORDS[word]
        if tier != "n":
            hits.append(KeywordHit(word, category, tier == "s"))
    return hits


# --- urgency -------------------------------------------------------------------------------

# The reporter says it is urgent.
_SAY_URGENT = (
    "急", "紧急", "着急", "急需", "加急", "特急", "火急", "急死", "急急", "十万火急", "火烧眉毛",
    "迫在眉睫", "燃眉之急", "救命", "求救", "告急", "急迫", "急件", "万分火急", "十分紧迫",
    "非常紧迫", "刻不容缓", "等不起", "拖不起", "耽误不起",
)  # fmt: skip
# Work or production has stopped or is being blocked now.
_STOPPED = (
    "停工", "停产", "停了", "停下", "停下来", "停摆", "停运", "停业", "停电", "断电", "拉闸",
    "停水", "断水", "停气", "断气", "断供", "干不了", "没法干", "干不下去", "施工不了", "无法施工",
    "没法施工", "不能施工", "没办法施工", "没法生产", "无法生产", "生产不了", "不能生产",
    "没办法生产", "进不了场", "进不去", "出不去", "运不出去", "阻工", "阻挠施工", "不让施工",
    "不让干", "不让进", "不让我们施工", "不让开工", "堵门", "堵路", "堵住", "围堵", "拦车", "拦住",
    "叫停", "责令停", "查封", "封停", "关停", "瘫痪", "趴窝", "全停", "停线", "停机", "被迫停",
    "被堵了", "给堵了", "门被堵", "大门堵了", "封路", "挖断", "全部停", "停止施工", "停止生产",
    "设备停", "不让走", "堵在", "被堵", "扣住", "困住", "围住", "不让车过", "不让过", "躺在",
    "僵持", "没法作业", "无法作业", "不让动工", "阻止施工", "禁止施工", "停止作业", "拦着", "围了",
    "不让作业", "动不了工", "施工停", "生产停", "停着", "停在那", "放假了", "封了", "被封",
)  # fmt: skip
# A safety hazard.
_HAZARD = (
    "安全隐患", "隐患", "塌方", "坍塌", "垮塌", "倒塌", "塌陷", "滑坡", "漏电", "触电", "起火",
    "着火", "火灾", "失火", "冒烟", "爆炸", "泄漏", "泄露", "漏气", "受伤", "伤人", "砸伤", "摔伤",
    "死亡", "出人命", "人命", "险情", "危险", "危房", "裂缝", "开裂", "决口", "溃堤", "被淹",
    "淹了", "倒灌", "安全事故", "事故", "断裂", "倾斜", "掉下来", "砸到", "有毒", "中毒", "烧伤",
    "伤亡", "垮了", "塌了", "随时可能", "渗漏", "往外渗", "溢出", "外溢", "漏了", "有漏", "冒出来",
)  # fmt: skip
# People in distress: wages unpaid, threats, violence, crowds.
_DISTRESS = (
    "欠薪", "讨薪", "拖欠工资", "工资拖欠", "工资没发", "工资发不出", "发不出工资", "没发工资",
    "拿不到工资", "工钱没", "要工资", "讨工资", "威胁", "恐吓", "扬言", "打人", "殴打", "打伤",
    "打架", "农药", "喝药", "吓人", "寻短见", "轻生", "以死相逼", "不活了", "放话", "搞事", "报复",
    "收拾我们", "汽油", "场面很乱", "场面混乱", "失控", "扔石头", "砸坏", "不敢住", "不敢出门",
    "不敢上班", "爬上", "爬到", "救护车", "头破", "流血", "送医院", "砍人", "拿刀", "被打", "持刀",
    "动手", "跳楼", "自杀", "上访", "聚集在", "聚集了", "聚集到", "聚众闹", "围攻", "闹事",
    "发生冲突", "起冲突", "打砸", "砸了", "人身安全", "群体性", "欠工资", "工资没给", "工资还没",
    "讨要工资", "工资都发不", "拉横幅", "堵大门", "打起来", "挨打",
)  # fmt: skip
# Matched with the longest-match scanner so they hide the 急 inside them.
_URGENT_NEUTRAL = (
    "应急", "急救", "急诊", "急性", "急剧", "急于", "性急", "急躁", "心急", "危险货物", "危险品",
    "危险废物", "危险化学品", "危险源", "隐患排查", "排查隐患", "安全隐患排查", "事故应急", "太堵",
    "很堵", "堵车", "拥堵", "报警系统", "报警器", "自动报警", "防火涂料",
)  # fmt: skip


def _word_table(groups: Sequence[tuple[str, Sequence[str]]]) -> dict[str, str]:
    """word → group name; the first group listing a word keeps it."""
    table: dict[str, str] = {}
    for name, words in groups:
        for word in words:
            table.setdefault(word, name)
    return table


_URGENT_KIND = _word_table(
    [
        ("say", _SAY_URGENT),
        ("stop", _STOPPED),
        ("hazard", _HAZARD),
        ("distress", _DISTRESS),
        ("", _URGENT_NEUTRAL),
    ]
)
_URGENT_SCAN = LongestMatch(_URGENT_KIND)
_WAGE_RE = re.compile(
    r"(?:拖欠|欠|没发|发不出|没给|不给|拿不到|讨要|要不到|结不了|没结|不结清)[^,，。!！?？]{0,6}(?:工资|工钱|薪)"
    r"|(?:工资|工钱)[^,，。!！?？]{0,6}(?:拖欠|没发|没有发|发不出|没到|没给|不给|欠着|拿不到|没结)"
)

# Threats: 不给钱就不让干, 被当地人打了.
_THREAT_RE = re.compile(
    r"不[^,，。!！?？]{0,5}就[^,，。!！?？]{0,3}(?:不让|停|堵|砸|打|喝|跳|不下来|不走)"
    r"|被[^,，。!！?？]{0,5}打(?:了|伤|得)"
)
# 不让我们的车进, 不让施工; but 不让外地的进来 is about competitors, not us.
_BLOCKED_RE = re.compile(
    r"不让(?:(?:我们|咱们|工人|施工队|施工方|车辆?|混凝土车|大车|货车|机械|挖机|设备)[^,，。!！?？]{0,3})?"
    r"(?:进|出|过|走|干|施工|开工|作业|生产|动工)"
)
_HALT_RE = re.compile(r"(?:停止|暂停|禁止|叫停)[^,，。!！?？]{0,5}(?:作业|施工|生产|开工|运输|营业)")

# Characters without which none of the pattern cues above (halt, blocked, threat, wage) can match.
_URGENT_PATTERN_HINT = re.compile(r"停|禁止|不让|被|就|工资|工钱|薪")

# Negation or hedging just before a cue: the thing did not (or may not) happen.
_NEG_BEFORE = re.compile(
    r"(?:不|没|没有|未|无|别|勿|非|并非|不是|不算|不太|不是很|不用|不必|不会|不至于|避免|防止|以免|"
    r"免得|不能让|不要|不想|担心|怕|害怕|万一|可能|如果|要是|若|否则|不然|会不会|是否|有没有|排除|"
    r"消除|预防|没那么|暂时不|倒不|也不|还不|一点不|毫不|并不|尚不|不怎么|谈不上|不存在)"
    r"[^,，。!！?？]{0,3}$"
)
# Words that contain a negator but do not negate (非常急, 特别急, 不得不停工, 没办法只能停产).
_NOT_NEGATION = re.compile(
    r"非常|不断|不停|不得不|不得已|不少|不仅|特别|分别|别人|无奈|没办法|没有办法|毫无办法|无办法|"
    r"不行|受不了|扛不住|顶不住|坚持不|不管|没人管|没人理|无人管|不知道|不知|不清楚|不然就"
)
_ACCESS_WORDS = frozenset(("进不去", "出不去", "运不出去", "进不了场"))
_TRAFFIC_RULE = re.compile(r"限行|禁行|限高|限宽|限重|限载|超限|超载|治超")
# A condition anywhere earlier in the clause: 不然他们不让我们施工 is a warning, not a stop.
_CONDITIONAL = re.compile(r"不然|否则|要不然|如果|要是|假如|万一|以免|免得|的话")
# Said of the past, unless the clause also says it is still going on.
_PAST_BEFORE = re.compile(r"(?:之前|以前|上次|去年|曾经|前段时间|前阵子|此前|原来|当时|上回)")
_ONGOING = re.compile(r"(?:至今|到现在|一直|还在|仍然|仍在|依然|又|现在|目前|今天|天了|已经)")
# Said to be over already.
_RESOLVED_AFTER = re.compile(
    r"^[^,，。!！?？]{0,8}(?:已恢复|恢复了|已经恢复|复工|复产|(?:已|已经|都|早就)解决|解决了|解决好|好了|没事了|已处理|处理好|"
    r"已整改|整改完|排除了|来电了|通了)"
)
# Future: 整改要停产一个月 and 下月准备停线检修 are plans, not a stop now (要求 is not 要).
_FUTURE_BEFORE = re.compile(r"(?:(?<!需)要|将|会|得|准备|计划|打算|需要|就要|下月|下周|明天)$")
# Imminent: 马上/眼看 + 停 counts as now; a plain conditional (再不…就) does not.
_IMMINENT_BEFORE = re.compile(r"(?:马上|眼看|即将|眼瞅着|立刻|当天|今天就|明天就)[^,，。!！?？]{0,4}$")


def _blank(m: re.Match[str]) -> str:
    return "_" * len(m.group())


def _clauses(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    pos = 0
    for m in _CLAUSE_SPLIT.finditer(text):
        if m.start() > pos:
            out.append((pos, text[pos : m.start()]))
        pos = m.end()
    if pos < len(text):
        out.append((pos, text[pos:]))
    return out


def urgency_cues(text: str) -> list[str]:
    """The urgency cues that hold in the text (kinds: say, stop, hazard, distress).

    A reporter who says it is not urgent (停电的事不急) is believed about a stoppage, but not
    about a hazard or people in distress.
    """
    kinds: list[str] = []
    found = _URGENT_SCAN.find(text)
    patterns = _URGENT_PATTERN_HINT.search(text) is not None
    if not found and not patterns:
        return kinds  # the common case: nothing urgent-sounding at all
    clauses = _clauses(text)
    starts = [start for start, _ in clauses]
    said_not_urgent = False
    # Keywords never contain clause punctuation, so matches over the whole text are exactly
    # the matches inside each clause; each is judged within its own clause.
    for pos, word in found:
        kind = _URGENT_KIND[word]
        if not kind:
            continue
        clause_start, clause = clauses[bisect.bisect_right(starts, pos) - 1]
        start = pos - clause_start
        before = _NOT_NEGATION.sub(_blank, clause[:start])
        after = clause[start + len(word) :]
        if _NEG_BEFORE.search(before) and not _IMMINENT_BEFORE.search(before):
            said_not_urgent = said_not_urgent or kind == "say"
            continue
        past = bool(_PAST_BEFORE.search(clause)) and not _ONGOING.search(clause)
        over = past or _RESOLVED_AFTER.search(after) or _CONDITIONAL.search(before)
        if kind != "say" and over:
            continue
        planned = _FUTURE_BEFORE.search(before) and not _IMMINENT_BEFORE.search(before)
        if kind == "stop" and planned:
            continue
        if kind == "stop" and word in _ACCESS_WORDS and _TRAFFIC_RULE.search(text):
            continue  # 限行，货车进不去: a standing traffic rule, not a blockade
        if kind == "say" and after.startswith("不"):
            continue  # 急不急 asks, it does not say
        kinds.append(kind)
    for _, clause in clauses if patterns else ():
        halt = _HALT_RE.search(clause)
        if halt and not _NEG_BEFORE.search(_NOT_NEGATION.sub(_blank, clause[: halt.start()])):
            kinds.append("stop")
        blocked = _BLOCKED_RE.search(clause)
        if blocked and not _NEG_BEFORE.search(_NOT_NEGATION.sub(_blank, clause[: blocked.start()])):
            kinds.append("stop")
        if _THREAT_RE.search(clause):
            kinds.append("distress")
        wage = _WAGE_RE.search(clause)
        if wage and not _NEG_BEFORE.search(_NOT_NEGATION.sub(_blank, clause[: wage.start()])):
            kinds.append("distress")
    if said_not_urgent and "say" not in kinds:
        kinds = [k for k in kinds if k in ("hazard", "distress")]
    return kinds


def is_urgent(text: str) -> bool:
    return bool(urgency_cues(text))


# --- milestones ----------------------------------------------------------------------------

MILESTONES: tuple[str, ...] = ("signed", "started", "topped_out", "completed", "in_production")

_MILESTONE_WORDS = _word_table([
    ("signed", ("签约", "签订投资协议", "签署投资协议", "签了投资协议", "签订投资合同",
                "签订合作协议", "签署合作协议", "正式签约", "签约落地", "落地签约", "签约仪式")),
    ("started", ("开工", "动工", "破土", "开建", "开始施工", "进场施工", "正式施工", "奠基",
                 "开工建设", "破土动工", "开始建设", "启动建设")),
    ("topped_out", ("封顶", "主体封顶", "结构封顶", "全面封顶", "主体结构封顶", "主体完工")),
    ("completed", ("竣工", "完工", "建成", "全面完工", "交工", "竣工验收", "建设完成", "全部建成",
                   "交付使用", "投入使用")),
    ("in_production", ("投产", "试生产", "投入生产", "投运", "投入运营", "正式运营", "开业",
                       "达产", "试投产", "试运行", "点火", "正式生产", "量产", "出产品", "建成投产",
                       "开始生产", "产品下线", "首台下线")),
])  # fmt: skip
_MILESTONE_SCAN = LongestMatch(_MILESTONE_WORDS)
_MILESTONE_NEG_BEFORE = re.compile(
    r"(?:没|没有|未|无法|不能|不了|迟迟|还没|尚未|一直没|影响|耽误|推迟|延期|延误|拖延|拖慢|"
    r"准备|计划|预计|力争|争取|确保|将|拟|即将|打算|想|要|能否|能不能|何时|什么时候|啥时候|"
    r"等|待|为了|保证|以便|耽搁|导致|造成|无法按期|年底前|月底前|之前|才能|否则|如果|按期|"
    r"目标|节点|倒排|计划于|下月|下个月|明年|下周|下半年|年内|今年内|尽早|早日|尽快)"
    r"[^,，。!！?？]{0,6}$"
)
_MILESTONE_NEG_AFTER = re.compile(
    r"^(?:不了|不成|不起来|受阻|困难|难|延期|推迟|时间|节点|手续|许可|计划|目标|日期|后|以后|之后|"
    r"前|之前|执照|仪式前)"
)
_ACHIEVED_JUST_BEFORE = re.compile(r"(?:已|已经|如期|提前)[^,，。!！?？]{0,3}$")
_ACHIEVED = re.compile(
    r"(?:已|已经|了|顺利|正式|实现|完成|举行|如期|提前|目前|现已|如今|全面|今天|昨天|本月|上月|本周)"
)


def milestone(text: str, progress: bool) -> str | None:
    """The furthest milestone the text says was reached, or None.

    Only reached milestones count: 计划下月开工 and 迟迟不能开工 are not milestones. In a progress
    report a bare mention (主体封顶, 设备调试投产) is taken as reached; in a problem report it
    needs a sign of completion (已/了/顺利…), because problems often name what they block.
    """
    found = _MILESTONE_SCAN.find(text)
    if not found:
        return None
    clauses = _clauses(text)
    starts = [start for start, _ in clauses]
    best = -1
    for pos, word in found:
        clause_start, clause = clauses[bisect.bisect_right(starts, pos) - 1]
        before = clause[: pos - clause_start]
        after = clause[pos - clause_start + len(word) :]
        negated = _MILESTONE_NEG_BEFORE.search(before) or _MILESTONE_NEG_AFTER.match(after)
        if negated and not _ACHIEVED_JUST_BEFORE.search(before):
            continue
        achieved = bool(_ACHIEVED.search(before[-6:])) or after.startswith("了")
        if not progress and not achieved:
            continue
        best = max(best, MILESTONES.index(_MILESTONE_WORDS[word]))
    return MILESTONES[best] if best >= 0 else None


# --- intent cues ---------------------------------------------------------------------------

_PROGRESS_CUE_WORDS = (
    "完成投资", "累计完成", "已完成", "完成了", "本月完成", "形象进度", "工程进度", "进度",
    "汇报", "报告一下", "报一下", "进展", "顺利", "有序推进", "正在施工", "正在安装", "已进场",
    "设备进场", "设备安装", "主体", "封顶", "投产", "竣工", "签约", "试生产", "百分之", "%",
    "截至", "截止", "累计", "年度计划", "占年度", "计划的", "砌筑", "浇筑", "钢结构", "吊装",
    "桩基", "基础施工", "装修", "外墙", "调试", "完成", "推进", "已经完成", "本周", "本月",
    "上月", "一季度", "上半年", "在建", "施工中", "已开工", "已封顶", "已竣工", "已投产",
    "工人在岗", "在岗", "人员到岗", "进展顺利", "已完工", "已签约", "正常施工", "正常生产",
    "施工正常", "一切正常", "运转正常", "生产正常", "大型机械", "机械设备", "台套",
)  # fmt: skip
_HELP_CUE_WORDS = (
    "请", "请求", "恳请", "帮忙", "帮帮", "帮助", "协调", "解决", "怎么办", "咋办", "没人管",
    "没人理", "问题", "困难", "卡住", "卡着", "卡在", "迟迟", "至今", "还没", "不给", "不让",
    "拖着", "麻烦", "希望", "能不能", "能否", "可否", "是否", "诉求", "反映", "投诉", "求助",
    "?", "吗", "呢", "影响", "催", "催促", "督促", "过问", "推动", "支持", "咨询", "问一下",
    "请问", "想问", "怎么", "什么时候", "啥时候", "何时", "一直", "没有", "没法", "无法",
    "不了", "难", "拖", "欠", "阻", "停工", "停产", "急", "盼", "尽快", "抓紧", "赶紧",
)  # fmt: skip

# One scan for both kinds of cue: word → (counts as progress, counts as a request for help).
_CUE_KIND: dict[str, tuple[int, int]] = {w: (1, 0) for w in _PROGRESS_CUE_WORDS}
_CUE_KIND.update({w: (_CUE_KIND.get(w, (0, 0))[0], 1) for w in _HELP_CUE_WORDS})
_CUE_SCAN = LongestMatch(_CUE_KIND)


def intent_cue_counts(text: str) -> tuple[int, int]:
    """How many progress-report cues and help-request cues the text has."""
    progress = help_ = 0
    for _, word in _CUE_SCAN.find(text):
        p, h = _CUE_KIND[word]
        progress += p
        help_ += h
    return progress, help_


def signature() -> str:
    """The word tables behind the model's rule features, for the model's staleness check."""
    parts = [
        ",".join(sorted(_KEYWORDS)),
        ",".join(f"{w}={k}" for w, k in sorted(_URGENT_KIND.items())),
        ",".join(f"{w}={k}" for w, k in sorted(_MILESTONE_WORDS.items())),
        ",".join(f"{w}={k}" for w, k in sorted(_CUE_KIND.items())),
    ]
    return "\n".join(parts)
