"""Chinese text of the statistics, rankings, bulletins, ledger and dashboard (one place)."""

from __future__ import annotations

from handlers.texts import esc

# Figure names (DESIGN §9).
SUBMITTED = "受理量"
RESPONSE_RATE = "响应率"
RESOLUTION_RATE = "办结率"
ON_TIME_RATE = "按期办结率"
SATISFACTION_RATE = "满意率"
RATED = "已评价"
UNRATED = "未评价"
REOPEN_RATE = "重办率"
OVERDUE_OPEN = "超期未办结"
MEDIAN_DAYS = "中位办结时长(工作日)"
MEAN_DAYS = "平均办结时长(工作日)"
UNIT = "责任单位"
UNIT_CODE = "单位编号"
TOTAL = "合计"
NONE = "—"

SCOPE_ALL = "全县"
SCOPE_LEADER = "{name} 分包项目"
SCOPE_CATEGORY = "类别:{name}"
SCOPE_PROJECT = "项目:{name}"
PERIOD_ALL = "全部时间"

STATS_FORBIDDEN = "统计仅向管理员、责任单位工作人员和分包领导开放。"
STATS_BAD_PERIOD = (
    "看不懂这个时间范围。可以用:/stats(本月)、/stats 上月、/stats 本周、/stats 上周、"
    "/stats 2026-11、/stats 2026-11-01 2026-11-15、/stats 全部。"
)
EXPORT_FORBIDDEN = "导出台账仅向管理员、责任单位工作人员和分包领导开放。"
EXPORT_BAD_STATUS = "状态只能是:待受理、办理中、已办结、已销号。"
EXPORT_READY = "📎 问题台账已生成:{rows} 条({period})。"
DASHBOARD_FORBIDDEN = "大屏登录链接仅向管理员开放。"
DASHBOARD_LINK = (
    "🖥 大屏登录链接({minutes} 分钟内有效,仅可使用一次):\n{url}\n"
    "在会议室电视或电脑的浏览器中打开即可;登录后页面会自动刷新。"
)
CHART_CAPTION = "📈 各单位办结率 / 按期办结率 / 满意率,及近 {weeks} 周趋势"
CHART_FILENAME = "统计图.png"
LEDGER_FILENAME = "问题台账.xlsx"

# Chart labels.
CHART_UNITS_TITLE = "各责任单位 办结率 / 按期办结率 / 满意率"
CHART_TREND_TITLE = "近 {weeks} 周趋势"
CHART_SUBMITTED = "受理量"
CHART_RESOLVED = "办结量"
CHART_PERCENT = "百分比(%)"
CHART_COUNT = "件数"
CHART_NO_DATA = "本期暂无数据"

# Ranking and bulletin.
RANKING_TITLE = "🏆 <b>{month} 责任单位月排名</b>"
RANKING_FORMULA = "综合得分 = {parts}"
RANKING_LINE = "{rank}. {name} <b>{score:.1f}</b> 分(受理 {submitted},办结率 {resolution},按期 {on_time},满意 {satisfaction})"
RANKING_NONE = "本月没有达到最低样本量的单位,不排名。"
RED_LIST = "🔴 <b>红榜</b>:{names}"
BLACK_LIST = "⚫ <b>黑榜</b>:{names}"
UNRANKED = "受理不足 {n} 件、不参与排名:{names}"
WEIGHT_NAMES = {
    "response_rate": "响应率",
    "resolution_rate": "办结率",
    "on_time_rate": "按期办结率",
    "satisfaction_rate": "满意率",
    "reopen_rate": "(1−重办率)",
}

BULLETIN_TITLE = "📣 <b>周通报</b>({period})"
BULLETIN_WEEK = (
    "上周受理 <b>{submitted}</b> 件,目前已办结 {done} 件,办结率 {resolution};"
    "按期办结率 {on_time},满意率 {satisfaction}(未评价 {unrated} 件)。"
)
BULLETIN_OVERDUE_HEAD = "⚠️ 截至目前超期未办结 <b>{n}</b> 件:"
BULLETIN_OVERDUE_LINE = "· {name}:{n} 件"
BULLETIN_NO_OVERDUE = "✅ 截至目前没有超期未办结的问题。"
BULLETIN_FOOT = "详见附件问题台账。"

# Ledger (问题台账) columns: the contract officials expect.
LEDGER_SHEET = "问题台账"
SUMMARY_SHEET = "汇总"
LEDGER_COLUMNS = (
    "编号", "项目名称", "问题类别", "问题描述", "反映人", "联系电话", "反映时间", "分包领导",
    "责任单位", "办理时限", "状态", "办理结果", "办结时间", "是否超期", "超期天数", "回访时间",
    "满意度", "销号时间",
)
SUMMARY_COLUMNS = (
    UNIT_CODE, UNIT, SUBMITTED, RESPONSE_RATE, RESOLUTION_RATE, ON_TIME_RATE, SATISFACTION_RATE,
    RATED, UNRATED, REOPEN_RATE, OVERDUE_OPEN, MEAN_DAYS, MEDIAN_DAYS,
)
SUMMARY_NOTE = "统计口径:{period} 内反映的问题;截至 {now}。比率无分母时留空。"
YES = "是"
NO = "否"
UNRATED_CLOSED = "未评价(到期自动销号)"

# Dashboard (大屏).
DASH_TITLE = "项目直通车 · 重点项目诉求大屏"
DASH_PERIOD = "统计期:{period} · 更新于 {now}"
DASH_UNITS = "各责任单位"
DASH_PROJECTS = "重点项目四色管理"
DASH_TREND = "近 {weeks} 周受理 / 办结趋势"
DASH_OPEN = "在办 {n}"
DASH_OVERDUE = "超期 {n}"
DASH_DAYS = "办结时长"
DASH_DAYS_NOTE = "中位 · 平均 {mean} 工作日"
DASH_MORE_PROJECTS = "……另有 {n} 个项目"
DASH_FORBIDDEN = "未授权:请使用管理员在机器人中获取的大屏登录链接。"
DASH_LINK_INVALID = "登录链接无效或已过期,请在机器人中重新发送 /dashboard 获取。"
COLOUR_NAMES = {"green": "绿 · 超前", "yellow": "黄 · 正常", "red": "红 · 滞后",
                "black": "黑 · 停滞", None: "未评定"}


def pct(value: float | None) -> str:
    return NONE if value is None else f"{value * 100:.1f}%"


def days(value: float | None) -> str:
    return NONE if value is None else f"{value:.1f}"


def names(items: list[str]) -> str:
    return "、".join(esc(i) for i in items) if items else NONE


def summary_lines(
    title: str,
    period: str,
    submitted: int,
    response: float | None,
    resolution: float | None,
    on_time: float | None,
    satisfaction: float | None,
    rated: int,
    unrated: int,
    reopen: float | None,
    overdue: int,
    median: float | None,
    mean: float | None,
) -> list[str]:
    return [
        f"📊 <b>统计 · {esc(title)}</b>",
        f"统计期:{esc(period)}",
        f"受理 <b>{submitted}</b> 件 · 响应率 {pct(response)} · 办结率 {pct(resolution)}",
        f"按期办结率 {pct(on_time)} · 满意率 {pct(satisfaction)}(已评价 {rated},未评价 {unrated})",
        f"重办率 {pct(reopen)} · 超期未办结 <b>{overdue}</b> 件",
        f"办结时长:中位 {days(median)} / 平均 {days(mean)} 个工作日",
    ]


UNITS_HEAD = "<b>分单位</b>(受理 / 办结率 / 按期 / 满意 / 超期)"
UNIT_LINE = "· {name}:{submitted} / {resolution} / {on_time} / {satisfaction} / {overdue}"
UNITS_MORE = "……另有 {n} 个单位,详见 /export 台账汇总表。"
