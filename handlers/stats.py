"""Statistics for people: the /stats summary and chart, rankings, bulletins, the dashboard page.

Transport-neutral: these functions take a unit of work (or a `Ctx`) and return text, PNG bytes
or HTML. The figures come from `storage.stats_queries` (definitions there and in DESIGN §9).

Who sees what (DESIGN §5): admins and the dispatcher (重点项目办, which sees every ticket) get
the whole county; an official gets the own unit; a leader gets the projects he or she 分包.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache, partial
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from domain.errors import Forbidden, InvalidInput
from domain.permissions import Actor
from domain.stats import (
    Period,
    Ranking,
    RankingRules,
    Scope,
    ScopeKind,
    rank_units,
)
from handlers import outmsg
from handlers import stats_texts as T
from handlers.context import Ctx
from handlers.ledger import LedgerFilters, export_ledger
from handlers.texts import esc
from storage.models import Account, DashboardToken
from storage.stats_queries import (
    ProjectRow,
    StatsReport,
    WeekPoint,
    project_board,
    query_stats,
    weekly_trend,
)
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from handlers.desk import Desk

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
TREND_WEEKS = 8
MAX_UNIT_LINES = 15

# --- scope and period ---------------------------------------------------------------------------


def scope_for_actor(actor: Actor) -> Scope | None:
    """The statistics scope a person may see, or None (enterprises see no statistics)."""
    if actor.is_admin or actor.is_dispatcher:
        return Scope.all()
    if actor.is_official and actor.unit_id is not None:
        return Scope.unit(actor.unit_id)
    if actor.leader_project_ids:
        return Scope.leader(actor.account_id)
    return None


_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def parse_period(args: str | None, today: date) -> Period:
    """/stats arguments → a period. Default: this month so far."""
    words = (args or "").split()
    if not words or words[0] in ("本月", "month"):
        return Period(today.replace(day=1), today)
    if len(words) == 1:
        w = words[0]
        if w in ("上月", "lastmonth"):
            return Period.previous_month(today)
        if w in ("本周", "week"):
            return Period(Period.week_of(today).start, today)
        if w in ("上周", "lastweek"):
            return Period.previous_week(today)
        if w in ("全部", "all"):
            return Period()
        if w in ("本年", "今年", "year"):
            return Period(today.replace(month=1, day=1), today)
        m = _MONTH.match(w)
        if m and 1 <= int(m.group(2)) <= 12:
            return Period.month(int(m.group(1)), int(m.group(2)))
        try:
            d = date.fromisoformat(w)
            return Period(d, d)
        except ValueError:
            pass
    if len(words) == 2:
        try:
            return Period(date.fromisoformat(words[0]), date.fromisoformat(words[1]))
        except ValueError:
            pass
    raise InvalidInput(T.STATS_BAD_PERIOD)


async def scope_title(uow: UnitOfWork, scope: Scope) -> str:
    if scope.kind == ScopeKind.UNIT:
        unit = await uow.org.unit(int(scope.value or 0))
        return unit.name if unit else str(scope.value)
    if scope.kind == ScopeKind.PROJECT:
        project = await uow.org.project(int(scope.value or 0))
        return T.SCOPE_PROJECT.format(name=project.name if project else scope.value)
    if scope.kind == ScopeKind.CATEGORY:
        category = await uow.org.category(str(scope.value))
        return T.SCOPE_CATEGORY.format(name=category.name if category else scope.value)
    if scope.kind == ScopeKind.LEADER:
        person = await uow.accounts.get(int(scope.value or 0))
        return T.SCOPE_LEADER.format(name=person.name if person else "")
    return T.SCOPE_ALL


def period_title(period: Period) -> str:
    return T.PERIOD_ALL if period.start is None and period.end is None else period.label()


# --- the /stats summary -------------------------------------------------------------------------


def _source(ctx_or_uow: Ctx | UnitOfWork, tz: ZoneInfo | None) -> tuple[UnitOfWork, ZoneInfo]:
    if isinstance(ctx_or_uow, Ctx):
        return ctx_or_uow.uow, tz or ctx_or_uow.config.timezone
    return ctx_or_uow, tz or DEFAULT_TZ


def summary_text(report: StatsReport, title: str) -> str:
    f = report.totals
    lines = T.summary_lines(
        title, period_title(report.period), f.submitted, f.response_rate, f.resolution_rate,
        f.on_time_rate, f.satisfaction_rate, f.rated, f.unrated, f.reopen_rate, f.overdue_open,
        f.median_days, f.mean_days,
    )
    if report.by_unit and report.scope.kind != ScopeKind.UNIT:
        lines.append("")
        lines.append(T.UNITS_HEAD)
        ordered = sorted(report.by_unit, key=lambda u: (-u.figures.submitted, u.code))
        for u in ordered[:MAX_UNIT_LINES]:
            g = u.figures
            lines.append(T.UNIT_LINE.format(
                name=esc(u.name), submitted=g.submitted, resolution=T.pct(g.resolution_rate),
                on_time=T.pct(g.on_time_rate), satisfaction=T.pct(g.satisfaction_rate),
                overdue=g.overdue_open))
        if len(ordered) > MAX_UNIT_LINES:
            lines.append(T.UNITS_MORE.format(n=len(ordered) - MAX_UNIT_LINES))
    return "\n".join(lines)


async def stats_summary(
    ctx_or_uow: Ctx | UnitOfWork,
    scope: Scope,
    period: Period,
    now: datetime,
    tz: ZoneInfo | None = None,
) -> str:
    """Compact HTML summary (Telegram parse_mode=HTML) for /stats."""
    uow, zone = _source(ctx_or_uow, tz)
    report = await query_stats(uow.session, now=now, tz=zone, scope=scope, period=period)
    return summary_text(report, await scope_title(uow, scope))


# --- the chart ----------------------------------------------------------------------------------

FONT_CANDIDATES = (
    # Debian: fonts-noto-cjk, fonts-wqy-microhei, fonts-wqy-zenhei.
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
CJK_FONT_NAME = re.compile(r"(cjk|wqy|sourcehan|simhei|hei|song|kai)", re.IGNORECASE)


@lru_cache(maxsize=1)
def cjk_font_path() -> Path | None:
    """A font file with Chinese glyphs: Noto Sans CJK SC from the `mplfonts` package (a project
    dependency, so `pip install` brings it), else a Debian CJK font if one is installed."""
    try:
        import mplfonts

        bundled = Path(mplfonts.__file__).parent / "fonts" / "NotoSansCJKsc-Regular.otf"
        if bundled.is_file():
            return bundled
    except ImportError:
        pass
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    return None


_render_lock = threading.Lock()


@lru_cache(maxsize=1)
def _font_family() -> str | None:
    from matplotlib import font_manager

    path = cjk_font_path()
    if path is None:
        return None
    font_manager.fontManager.addfont(str(path))
    return str(font_manager.FontProperties(fname=str(path)).get_name())


def render_stats_chart(report: StatsReport, trend: list[WeekPoint], title: str = "") -> bytes:
    """PNG: per-unit bars of 办结率 / 按期办结率 / 满意率 over the weekly trend of 受理 / 办结.

    Rendered with matplotlib's Agg canvas (no GUI, no pyplot state) in the CJK font above.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    family = _font_family()
    # Names are text, never mathtext ("$…$" in a unit name must not be parsed).
    rc: Any = {"axes.unicode_minus": False, "text.parse_math": False}
    if family:
        rc["font.family"] = "sans-serif"
        rc["font.sans-serif"] = [family, "DejaVu Sans"]
    with _render_lock, matplotlib.rc_context(rc):
        units = [u for u in report.by_unit if u.figures.submitted > 0]
        fig = Figure(figsize=(min(30.0, max(11.0, 0.9 * len(units) + 3)), 8.5), dpi=110)
        FigureCanvasAgg(fig)
        top, bottom = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 2]})
        if title:
            fig.suptitle(title, fontsize=16)
        if units:
            xs = list(range(len(units)))
            series = (
                (T.RESOLUTION_RATE, [u.figures.resolution_rate for u in units], "#2b7bba"),
                (T.ON_TIME_RATE, [u.figures.on_time_rate for u in units], "#f0a30a"),
                (T.SATISFACTION_RATE, [u.figures.satisfaction_rate for u in units], "#3aa357"),
            )
            width = 0.26
            for i, (label, values, colour) in enumerate(series):
                pos = [x + (i - 1) * width for x in xs]
                heights = [(v or 0.0) * 100 for v in values]
                bars = top.bar(pos, heights, width, label=label, color=colour)
                top.bar_label(bars, labels=[T.pct(v).rstrip("%") if v is not None else T.NONE
                                            for v in values], fontsize=8, padding=2)
            top.set_xticks(xs, [u.name for u in units],
                           rotation=20 if len(units) > 5 else 0, ha="right" if len(units) > 5
                           else "center")
            top.set_ylim(0, 115)
            top.set_ylabel(T.CHART_PERCENT)
            top.legend(loc="upper right", ncols=3, fontsize=9)
        else:
            top.text(0.5, 0.5, T.CHART_NO_DATA, ha="center", va="center", fontsize=16)
            top.set_xticks([])
            top.set_yticks([])
        top.set_title(T.CHART_UNITS_TITLE, fontsize=13)

        weeks = [p.week_start.strftime("%m-%d") for p in trend]
        xs = list(range(len(trend)))
        bottom.bar([x - 0.2 for x in xs], [p.submitted for p in trend], 0.4,
                   label=T.CHART_SUBMITTED, color="#7aa6d6")
        bottom.bar([x + 0.2 for x in xs], [p.resolved for p in trend], 0.4,
                   label=T.CHART_RESOLVED, color="#3aa357")
        bottom.plot(xs, [p.submitted for p in trend], color="#2b5f8f", marker="o", linewidth=1)
        bottom.set_xticks(xs, weeks)
        bottom.set_ylabel(T.CHART_COUNT)
        bottom.set_title(T.CHART_TREND_TITLE.format(weeks=len(trend)), fontsize=13)
        bottom.legend(loc="upper left", fontsize=9)
        fig.tight_layout()
        buf = BytesIO()
        fig.savefig(buf, format="png")
    return buf.getvalue()


async def stats_chart(uow: UnitOfWork, scope: Scope, period: Period, now: datetime,
                      tz: ZoneInfo, weeks: int = TREND_WEEKS) -> bytes:
    report = await query_stats(uow.session, now=now, tz=tz, scope=scope, period=period)
    trend = await weekly_trend(uow.session, now=now, tz=tz, scope=scope, weeks=weeks)
    title = f"{await scope_title(uow, scope)} · {period_title(period)}"
    return await asyncio.to_thread(render_stats_chart, report, trend, title)


# --- monthly ranking (月排名) and weekly bulletin (周通报) -----------------------------------------


def ranking_text(ranking: Ranking, period: Period) -> str:
    month = (f"{period.start.year}年{period.start.month}月" if period.start
             else period_title(period))
    weights = ranking.rules.weights
    total = sum(w for w in weights.values() if w > 0) or 1.0
    parts = " + ".join(f"{T.WEIGHT_NAMES.get(k, k)}×{w / total:.0%}"
                       for k, w in weights.items() if w > 0)
    lines = [T.RANKING_TITLE.format(month=month), T.RANKING_FORMULA.format(parts=parts), ""]
    if not ranking.ranked:
        lines.append(T.RANKING_NONE)
    for r in ranking.ranked:
        f = r.unit.figures
        lines.append(T.RANKING_LINE.format(
            rank=r.rank, name=esc(r.unit.name), score=r.score or 0.0, submitted=f.submitted,
            resolution=T.pct(f.resolution_rate), on_time=T.pct(f.on_time_rate),
            satisfaction=T.pct(f.satisfaction_rate)))
    if ranking.red or ranking.black:
        lines.append("")
        lines.append(T.RED_LIST.format(names=T.names([r.unit.name for r in ranking.red])))
        lines.append(T.BLACK_LIST.format(names=T.names([r.unit.name for r in ranking.black])))
    if ranking.unranked:
        lines.append("")
        lines.append(T.UNRANKED.format(
            n=ranking.rules.min_sample,
            names=T.names([f"{r.unit.name}({r.unit.figures.submitted} 件)"
                           for r in ranking.unranked])))
    return "\n".join(lines)


async def monthly_ranking(
    uow: UnitOfWork, now: datetime, tz: ZoneInfo, rules: RankingRules | None = None,
    period: Period | None = None,
) -> tuple[str, Ranking]:
    """The ranking of the previous month (run on the 1st); the dispatcher unit is not ranked."""
    period = period or Period.previous_month(now.astimezone(tz).date())
    report = await query_stats(uow.session, now=now, tz=tz, period=period)
    ranking = rank_units([u for u in report.by_unit if u.kind != "dispatcher"], rules)
    return ranking_text(ranking, period), ranking


def bulletin_text(week: StatsReport, current: StatsReport) -> str:
    f = week.totals
    lines = [
        T.BULLETIN_TITLE.format(period=period_title(week.period)),
        T.BULLETIN_WEEK.format(
            submitted=f.submitted, done=round((f.resolution_rate or 0) * f.submitted),
            resolution=T.pct(f.resolution_rate), on_time=T.pct(f.on_time_rate),
            satisfaction=T.pct(f.satisfaction_rate), unrated=f.unrated),
        "",
    ]
    overdue = sorted((u for u in current.by_unit if u.figures.overdue_open),
                     key=lambda u: (-u.figures.overdue_open, u.code))
    if overdue:
        lines.append(T.BULLETIN_OVERDUE_HEAD.format(n=current.totals.overdue_open))
        for u in overdue[:MAX_UNIT_LINES]:
            lines.append(T.BULLETIN_OVERDUE_LINE.format(name=esc(u.name), n=u.figures.overdue_open))
    else:
        lines.append(T.BULLETIN_NO_OVERDUE)
    lines.append("")
    lines.append(T.BULLETIN_FOOT)
    return "\n".join(lines)


async def weekly_bulletin(uow: UnitOfWork, now: datetime, tz: ZoneInfo,
                          ledger_path: Path | None = None) -> str:
    """The 周通报 for the previous local week (run Monday morning). With `ledger_path`, the full
    problem ledger is written there to attach."""
    week = Period.previous_week(now.astimezone(tz).date())
    week_report = await query_stats(uow.session, now=now, tz=tz, period=week)
    current = await query_stats(uow.session, now=now, tz=tz)
    if ledger_path is not None:
        await export_ledger(uow, ledger_path, LedgerFilters(), now, tz)
    return bulletin_text(week_report, current)


# --- chat commands (the composition root registers them in Desk.extra_commands) ----------------


def _require_scope(ctx: Ctx, message: str) -> Scope:
    if ctx.actor is None:
        raise Forbidden(message)
    scope = scope_for_actor(ctx.actor)
    if scope is None:
        raise Forbidden(message)
    return scope


async def cmd_stats(ctx: Ctx, args: str, out_dir: Path) -> None:
    """/stats [本月|上月|本周|上周|YYYY-MM|D D|全部]: summary text, then the chart as a photo."""
    scope = _require_scope(ctx, T.STATS_FORBIDDEN)
    tz = ctx.config.timezone
    period = parse_period(args, ctx.now.astimezone(tz).date())
    await ctx.reply(outmsg.send(await stats_summary(ctx, scope, period, ctx.now)))
    png = await stats_chart(ctx.uow, scope, period, ctx.now, tz)
    path = _out_file(out_dir, "stats", ctx, "png")
    await asyncio.to_thread(path.write_bytes, png)
    await ctx.reply(outmsg.send(T.CHART_CAPTION.format(weeks=TREND_WEEKS), photo_path=str(path)))


async def cmd_export(ctx: Ctx, args: str, out_dir: Path) -> None:
    """/export [period words as /stats]: the ledger of the person's scope as an .xlsx file."""
    scope = _require_scope(ctx, T.EXPORT_FORBIDDEN)
    tz = ctx.config.timezone
    period = parse_period(args, ctx.now.astimezone(tz).date()) if args.strip() else Period()
    path = _out_file(out_dir, "ledger", ctx, "xlsx")
    rows = await export_ledger(ctx.uow, path, LedgerFilters(period=period, scope=scope),
                               ctx.now, tz)
    await ctx.reply(outmsg.send(
        T.EXPORT_READY.format(rows=rows, period=period_title(period)),
        document={"path": str(path), "filename": T.LEDGER_FILENAME}))


async def cmd_dashboard(ctx: Ctx, args: str, base_url: str,
                        ttl: timedelta = timedelta(minutes=10)) -> None:
    """/dashboard: a single-use, expiring login link to the big-screen page (admins only)."""
    if ctx.actor is None or not ctx.actor.is_admin:
        raise Forbidden(T.DASHBOARD_FORBIDDEN)
    token = await issue_dashboard_login(ctx.uow, ctx.now, ttl, ctx.actor.account_id)
    url = dashboard_login_url(base_url, token)
    await ctx.reply(outmsg.send(T.DASHBOARD_LINK.format(minutes=int(ttl.total_seconds() // 60),
                                                        url=esc(url))))


DEFAULT_DASHBOARD_URL = "http://127.0.0.1:8080"


def register(desk: Desk, data_dir: str | Path | None = None,
             dashboard_url: str | None = None) -> None:
    """Plug /stats, /export and /dashboard into the desk. Charts and ledgers are written under
    `data_dir`/exports and sent as documents; `dashboard_url` is where `zhitong dashboard` is
    reachable from the admins' browsers (the login link is built on it)."""
    out_dir = Path(data_dir or "zhitong-data") / "exports"
    desk.extra_commands["stats"] = partial(cmd_stats, out_dir=out_dir)
    desk.extra_commands["export"] = partial(cmd_export, out_dir=out_dir)
    desk.extra_commands["dashboard"] = partial(cmd_dashboard,
                                               base_url=dashboard_url or DEFAULT_DASHBOARD_URL)


def _out_file(out_dir: Path, stem: str, ctx: Ctx, ext: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = ctx.update_id if ctx.update_id is not None else int(ctx.now.timestamp())
    return out_dir / f"{stem}-{ctx.chat_id or 0}-{tag}.{ext}"


# --- dashboard access ---------------------------------------------------------------------------

LOGIN = "login"
SESSION = "session"
SESSION_TTL = timedelta(days=30)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(given: str | None, configured: str | None) -> bool:
    """Constant-time compare; an empty configured token never matches."""
    if not given or not configured:
        return False
    return hmac.compare_digest(given.encode(), configured.encode())


def dashboard_login_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/login?t={token}"


async def issue_dashboard_login(uow: UnitOfWork, now: datetime, ttl: timedelta,
                                account_id: int | None = None) -> str:
    """A single-use login token for the dashboard; only its hash is stored. Caller commits."""
    token = secrets.token_urlsafe(24)
    uow.session.add(DashboardToken(token_hash=_hash(token), kind=LOGIN, account_id=account_id,
                                   created_at=now, expires_at=now + ttl))
    await uow.session.flush()
    return token


async def redeem_dashboard_login(uow: UnitOfWork, token: str, now: datetime,
                                 session_ttl: timedelta = SESSION_TTL) -> str | None:
    """Use a login token once (one atomic UPDATE) and open a session; returns the session token
    for the cookie, or None when the link is unknown, used or expired. Caller commits."""
    if not token or len(token) > 128:
        return None
    res = await uow.session.execute(
        update(DashboardToken)
        .where(DashboardToken.token_hash == _hash(token), DashboardToken.kind == LOGIN,
               DashboardToken.used_at.is_(None), DashboardToken.expires_at > now)
        .values(used_at=now)
        .returning(DashboardToken.account_id)
    )
    row = res.first()
    if row is None:
        return None
    session_token = secrets.token_urlsafe(32)
    uow.session.add(DashboardToken(token_hash=_hash(session_token), kind=SESSION,
                                   account_id=row[0], created_at=now,
                                   expires_at=now + session_ttl))
    await uow.session.flush()
    return session_token


async def dashboard_session_valid(uow: UnitOfWork, session_token: str | None,
                                  now: datetime) -> bool:
    if not session_token or len(session_token) > 128:
        return False
    found = (await uow.session.execute(
        select(DashboardToken.account_id).where(
            DashboardToken.token_hash == _hash(session_token), DashboardToken.kind == SESSION,
            DashboardToken.used_at.is_(None), DashboardToken.expires_at > now)
    )).first()
    if found is None:
        return False
    # A session opened by someone who is no longer an active admin ends with that.
    account_id = found[0]
    if account_id is None:
        return True
    person = await uow.session.get(Account, account_id)
    return person is not None and person.active and "admin" in (person.roles or [])


# --- the dashboard page (大屏) ---------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardData:
    report: StatsReport
    trend: list[WeekPoint]
    projects: list[ProjectRow]
    now: datetime
    tz: ZoneInfo


async def dashboard_data(uow: UnitOfWork, now: datetime, tz: ZoneInfo,
                         period: Period | None = None, weeks: int = TREND_WEEKS) -> DashboardData:
    """Figures for the big screen: this year so far unless a period is given."""
    today = now.astimezone(tz).date()
    period = period or Period(today.replace(month=1, day=1), today)
    report = await query_stats(uow.session, now=now, tz=tz, period=period)
    trend = await weekly_trend(uow.session, now=now, tz=tz, weeks=weeks)
    projects = await project_board(uow.session, now)
    return DashboardData(report, trend, projects, now, tz)


def trend_svg(trend: list[WeekPoint], width: int = 900, height: int = 300) -> str:
    """Grouped bars (受理 / 办结) per week as inline SVG, written by hand: no chart library."""
    pad_l, pad_r, pad_t, pad_b = 50, 20, 40, 50
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    top = max([1, *(p.submitted for p in trend), *(p.resolved for p in trend)])
    n = max(1, len(trend))
    slot = plot_w / n
    bar = slot * 0.34
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="trend" role="img" aria-label="{html.escape(T.DASH_TREND.format(weeks=n))}">',
        f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - pad_r}" y2="{pad_t + plot_h}" '
        'stroke="#8aa" stroke-width="2"/>',
        f'<rect x="{pad_l}" y="8" width="18" height="18" fill="#5b9bd5"/>'
        f'<text x="{pad_l + 24}" y="23" class="lg">{T.CHART_SUBMITTED}</text>'
        f'<rect x="{pad_l + 120}" y="8" width="18" height="18" fill="#4caf50"/>'
        f'<text x="{pad_l + 144}" y="23" class="lg">{T.CHART_RESOLVED}</text>',
    ]
    for i, p in enumerate(trend):
        x0 = pad_l + i * slot + slot * 0.14
        for j, (value, colour, kind) in enumerate(
                ((p.submitted, "#5b9bd5", "submitted"), (p.resolved, "#4caf50", "resolved"))):
            h = plot_h * value / top
            x = x0 + j * bar
            y = pad_t + plot_h - h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{colour}" data-week="{p.week_start.isoformat()}" '
                         f'data-kind="{kind}" data-value="{value}"/>')
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{y - 6:.1f}" text-anchor="middle" '
                         f'class="v">{value}</text>')
        parts.append(f'<text x="{pad_l + i * slot + slot / 2:.1f}" y="{height - 18}" '
                     f'text-anchor="middle" class="wk">{p.week_start:%m-%d}</text>')
    parts.append("</svg>")
    return "".join(parts)


# The font URL is relative to the page (/ or /login), so it stays under a reverse proxy's path
# prefix (e.g. /dashboard/font/cjk.otf) as well as at the root.
DASH_CSS = """
@font-face { font-family: ZhitongCJK; src: url(font/cjk.otf); font-display: swap; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 36px; background: #0b1a2e; color: #e8f0fa;
  font-family: ZhitongCJK, "Noto Sans CJK SC", "Microsoft YaHei", "WenQuanYi Micro Hei",
  sans-serif; font-size: 26px; }
h1 { font-size: 48px; margin: 0 0 4px; letter-spacing: 4px; }
h2 { font-size: 30px; margin: 22px 0 10px; color: #9cc9ff; }
.sub { color: #9fb3c8; font-size: 22px; }
.tiles { display: grid; grid-template-columns: repeat(8, 1fr); gap: 14px; margin-top: 16px; }
.tile { background: #13294a; border-radius: 12px; padding: 12px 16px; }
.tile .k { color: #9fb3c8; font-size: 22px; white-space: nowrap; }
.tile .v { font-size: 50px; font-weight: bold; color: #fff; white-space: nowrap; }
.tile .n { font-size: 18px; color: #9fb3c8; min-height: 1.2em; white-space: nowrap; }
.tile.warn .v { color: #ff6b6b; }
.cols { display: grid; grid-template-columns: 3fr 2fr; gap: 32px; }
table { width: 100%; border-collapse: collapse; font-size: 24px; }
th, td { padding: 8px 10px; border-bottom: 1px solid #23406a; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { color: #9cc9ff; font-weight: normal; }
td.bad { color: #ff6b6b; font-weight: bold; }
ul.projects { list-style: none; margin: 0; padding: 0; display: grid;
  grid-template-columns: 1fr 1fr; gap: 10px; }
ul.projects li { border-radius: 10px; padding: 10px 14px; font-size: 24px; color: #fff; }
li.green { background: #1e7b3a; } li.yellow { background: #a77b00; }
li.red { background: #b3261e; } li.black { background: #000; border: 2px solid #555; }
li.none { background: #3b4a5e; }
li .c { font-size: 18px; opacity: .9; display: block; }
.legend { font-size: 22px; color: #9fb3c8; margin-bottom: 10px; }
.legend b { color: #fff; margin-right: 6px; }
.dot { display: inline-block; width: 16px; height: 16px; border-radius: 50%; margin-right: 4px; }
.dot.green { background: #1e7b3a; } .dot.yellow { background: #a77b00; }
.dot.red { background: #b3261e; } .dot.black { background: #000; border: 1px solid #888; }
.dot.none { background: #3b4a5e; }
svg.trend { width: 100%; height: auto; background: #102340; border-radius: 12px; }
svg .v { fill: #fff; font-size: 18px; } svg .wk, svg .lg { fill: #9fb3c8; font-size: 18px; }
"""


COLOUR_ORDER: tuple[str | None, ...] = ("black", "red", "yellow", "green", None)
MAX_DASH_PROJECTS = 16


def _colour(value: str | None) -> str | None:
    return value if value in ("green", "yellow", "red", "black") else None


def _tile(key: str, label: str, value: str, note: str = "", warn: bool = False) -> str:
    cls = "tile warn" if warn else "tile"
    return (f'<div class="{cls}" id="{key}"><div class="k">{label}</div>'
            f'<div class="v">{value}</div><div class="n">{note}</div></div>')


def render_dashboard_html(data: DashboardData, refresh_seconds: int = 60) -> str:
    """The big-screen page: headline figures, per-unit table, four-colour projects, trend."""
    r = data.report
    f = r.totals
    e = html.escape
    tiles = "".join([
        _tile("submitted", T.SUBMITTED, str(f.submitted)),
        _tile("response_rate", T.RESPONSE_RATE, T.pct(f.response_rate)),
        _tile("resolution_rate", T.RESOLUTION_RATE, T.pct(f.resolution_rate)),
        _tile("on_time_rate", T.ON_TIME_RATE, T.pct(f.on_time_rate)),
        _tile("satisfaction_rate", T.SATISFACTION_RATE, T.pct(f.satisfaction_rate),
              f"{T.RATED} {f.rated} · {T.UNRATED} {f.unrated}"),
        _tile("reopen_rate", T.REOPEN_RATE, T.pct(f.reopen_rate)),
        _tile("overdue_open", T.OVERDUE_OPEN, str(f.overdue_open), warn=f.overdue_open > 0),
        _tile("days", T.DASH_DAYS, T.days(f.median_days),
              T.DASH_DAYS_NOTE.format(mean=T.days(f.mean_days))),
    ])
    rows = []
    for u in sorted(r.by_unit, key=lambda u: (-u.figures.submitted, u.code)):
        g = u.figures
        bad = ' class="bad"' if g.overdue_open else ""
        rows.append(
            f'<tr data-unit="{e(u.code)}"><td>{e(u.name)}</td><td>{g.submitted}</td>'
            f"<td>{T.pct(g.resolution_rate)}</td><td>{T.pct(g.on_time_rate)}</td>"
            f"<td>{T.pct(g.satisfaction_rate)}</td><td{bad}>{g.overdue_open}</td></tr>")
    table = (
        f"<table id=\"units\"><thead><tr><th>{T.UNIT}</th><th>{T.SUBMITTED}</th>"
        f"<th>{T.RESOLUTION_RATE}</th><th>{T.ON_TIME_RATE}</th><th>{T.SATISFACTION_RATE}</th>"
        f"<th>{T.OVERDUE_OPEN}</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    items = []
    tally: dict[str | None, int] = dict.fromkeys(COLOUR_ORDER, 0)
    projects = sorted(data.projects, key=lambda p: (COLOUR_ORDER.index(_colour(p.colour)),
                                                    -p.overdue_open, p.code))
    for p in projects:
        tally[_colour(p.colour)] += 1
    for p in projects[:MAX_DASH_PROJECTS]:
        colour = _colour(p.colour)
        counts = T.DASH_OPEN.format(n=p.open_tickets)
        if p.overdue_open:
            counts += " · " + T.DASH_OVERDUE.format(n=p.overdue_open)
        items.append(
            f'<li class="{colour or "none"}" data-project="{e(p.code)}" '
            f'data-colour="{colour or "none"}">{e(p.name)}'
            f'<span class="c">{T.COLOUR_NAMES[colour]} · {counts}</span></li>')
    if len(projects) > MAX_DASH_PROJECTS:
        items.append(f'<li class="none">{T.DASH_MORE_PROJECTS.format(n=len(projects) - MAX_DASH_PROJECTS)}</li>')
    legend = " · ".join(
        f'<span class="dot {c or "none"}"></span>{T.COLOUR_NAMES[c].split(" ")[0]} '
        f'<b id="colour-{c or "none"}">{n}</b>' for c, n in tally.items())
    now_local = data.now.astimezone(data.tz).strftime("%Y-%m-%d %H:%M")
    return (
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="refresh" content="{int(refresh_seconds)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{T.DASH_TITLE}</title><style>{DASH_CSS}</style></head><body>"
        f"<h1>{T.DASH_TITLE}</h1>"
        f'<div class="sub" id="as-of">'
        f"{e(T.DASH_PERIOD.format(period=period_title(r.period), now=now_local))}</div>"
        f'<div class="tiles">{tiles}</div>'
        f'<div class="cols"><section><h2>{T.DASH_UNITS}</h2>{table}'
        f"<h2>{T.DASH_TREND.format(weeks=len(data.trend))}</h2>{trend_svg(data.trend)}</section>"
        f'<section><h2>{T.DASH_PROJECTS}</h2><div class="legend">{legend}</div>'
        f'<ul class="projects" id="projects">{"".join(items)}</ul></section></div>'
        "</body></html>"
    )


def dashboard_error_html(message: str) -> str:
    return (
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        f"<title>{T.DASH_TITLE}</title><style>{DASH_CSS}</style></head><body>"
        f'<h1>{T.DASH_TITLE}</h1><p id="error">{html.escape(message)}</p></body></html>'
    )
