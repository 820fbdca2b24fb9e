"""`zhitong stats`, `zhitong export` and `zhitong dashboard` (DESIGN §9, §11).

The dashboard is a small read-only aiohttp site: `/` shows the big-screen page to a browser that
presents the configured token (`?token=`, ZHITONG_DASHBOARD_TOKEN, compared in constant time) or
the session cookie that a single-use login link (`/login?t=…`, from /dashboard in chat or
`zhitong dashboard --issue-login`) sets. Charts are inline SVG rendered on the server; the only
other file served is the CJK font the project installs, so an office TV without Chinese fonts
still shows Chinese.
"""

from __future__ import annotations

import html
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from aiohttp import web

from bot import texts
from bot.cli_core import require_schema, run_async
from bot.settings import Settings
from domain.stats import Period, Scope
from handlers import stats as hstats
from handlers import stats_texts as T
from handlers.ledger import STATUSES, LedgerFilters, export_ledger
from storage.uow import UnitOfWork, UnitOfWorkFactory

COOKIE = "zhitong_dash"
DATE = click.DateTime(formats=["%Y-%m-%d"])


def _parse_now(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise click.BadParameter(texts.STATS_NAIVE_NOW)
    return moment.astimezone(UTC)


def _period(date_from: datetime | None, date_to: datetime | None) -> Period:
    try:
        return Period(date_from.date() if date_from else None, date_to.date() if date_to else None)
    except ValueError as exc:
        raise click.BadParameter(texts.STATS_BAD_PERIOD) from exc


def _factory(settings: Settings) -> tuple[Any, UnitOfWorkFactory]:
    from storage.db import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    return engine, UnitOfWorkFactory(make_sessionmaker(engine))


async def _unit_id(uow: UnitOfWork, code: str | None) -> int | None:
    if code is None:
        return None
    unit = await uow.org.unit_by_code(code)
    if unit is None:
        raise click.ClickException(texts.NO_SUCH_UNIT.format(code=code))
    return unit.id


def _plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


# --- zhitong stats ------------------------------------------------------------------------------


@click.command()
@click.option("--json", "as_json", is_flag=True, help="输出 JSON(比率为小数,无分母时为 null)。")
@click.option("--from", "date_from", type=DATE, default=None, help="起始日期(含),本地时间。")
@click.option("--to", "date_to", type=DATE, default=None, help="截止日期(含),本地时间。")
@click.option("--unit", "unit_code", default=None, help="只统计某个责任单位(单位编号)。")
@click.option("--now", "now_text", default=None, hidden=True,
              help="以该时刻(ISO,带时区)计算,供核对与测试。")
def stats(as_json: bool, date_from: datetime | None, date_to: datetime | None,
          unit_code: str | None, now_text: str | None) -> None:
    """统计:受理量、响应率、办结率、按期办结率、满意率、重办率、超期件数、办结时长,及分单位。"""
    settings = Settings()
    period = _period(date_from, date_to)
    now = _parse_now(now_text)
    payload, text = run_async(_stats(settings, period, unit_code, now))
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, indent=1))
    else:
        click.echo(_plain(text))


async def _stats(settings: Settings, period: Period, unit_code: str | None,
                 now: datetime) -> tuple[dict[str, Any], str]:
    from storage.stats_queries import query_stats

    tz = ZoneInfo(settings.timezone)
    engine, factory = _factory(settings)
    try:
        await require_schema(engine)
        async with factory() as uow:
            unit_id = await _unit_id(uow, unit_code)
            scope = Scope.unit(unit_id) if unit_id is not None else Scope.all()
            report = await query_stats(uow.session, now=now, tz=tz, scope=scope, period=period)
            title = await hstats.scope_title(uow, scope)
            return report.to_dict(), hstats.summary_text(report, title)
    finally:
        await engine.dispose()


async def stats_payload(settings: Settings, date_from: date | None, date_to: date | None,
                        unit_code: str | None, engine: Any = None,
                        now: datetime | None = None) -> dict[str, Any]:
    """What `zhitong stats --json` prints, for callers that hold an engine (the demo)."""
    from storage.db import make_sessionmaker
    from storage.stats_queries import query_stats

    if engine is None:
        payload, _ = await _stats(settings, Period(date_from, date_to), unit_code,
                                  now or datetime.now(UTC))
        return payload
    tz = ZoneInfo(settings.timezone)
    async with UnitOfWork(make_sessionmaker(engine)) as uow:
        unit_id = await _unit_id(uow, unit_code)
        scope = Scope.unit(unit_id) if unit_id is not None else Scope.all()
        report = await query_stats(uow.session, now=now or datetime.now(UTC), tz=tz,
                                   scope=scope, period=Period(date_from, date_to))
        return report.to_dict()


# --- zhitong export -----------------------------------------------------------------------------


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--from", "date_from", type=DATE, default=None, help="反映时间起(含)。")
@click.option("--to", "date_to", type=DATE, default=None, help="反映时间止(含)。")
@click.option("--unit", "unit_code", default=None, help="只导出某个责任单位(单位编号)。")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="只导出某个状态。")
@click.option("--reveal-phones", is_flag=True, help="显示完整联系电话(默认打码)。")
def export(file: Path, date_from: datetime | None, date_to: datetime | None,
           unit_code: str | None, status: str | None, reveal_phones: bool) -> None:
    """导出问题台账(.xlsx):问题台账表 + 分单位汇总表。"""
    settings = Settings()
    period = _period(date_from, date_to)
    rows = run_async(_export(settings, file, period, unit_code, status, reveal_phones))
    click.echo(texts.EXPORT_DONE.format(path=file, rows=rows))


async def _export(settings: Settings, file: Path, period: Period, unit_code: str | None,
                  status: str | None, reveal_phones: bool) -> int:
    tz = ZoneInfo(settings.timezone)
    engine, factory = _factory(settings)

    def progress(n: int) -> None:
        click.echo(texts.EXPORT_PROGRESS.format(rows=n), err=True)

    try:
        await require_schema(engine)
        async with factory() as uow:
            unit_id = await _unit_id(uow, unit_code)
            click.echo(texts.EXPORT_STARTED.format(path=file), err=True)
            filters = LedgerFilters(period=period, unit_id=unit_id, status=status)
            return await export_ledger(uow, file, filters, datetime.now(UTC), tz,
                                       reveal_phones=reveal_phones, progress=progress)
    finally:
        await engine.dispose()


# --- zhitong dashboard --------------------------------------------------------------------------


def _html(body: str, status: int = 200) -> web.Response:
    resp = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; font-src 'self'; img-src 'self' data:")
    return resp


def make_dashboard_app(
    uow_factory: UnitOfWorkFactory,
    *,
    token: str,
    tz: ZoneInfo,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    refresh_seconds: int = 60,
    period: Callable[[date], Period] | None = None,
    https_outside: bool = False,
) -> web.Application:
    """The read-only big-screen site; `zhitong run` may mount it too. `https_outside`: browsers
    reach it over https (a reverse proxy ends TLS and talks plain HTTP to it), so its session
    cookie is marked Secure all the same."""

    async def page(request: web.Request) -> web.Response:
        moment = now()
        async with uow_factory() as uow:
            allowed = hstats.token_matches(request.query.get("token"), token) or (
                await hstats.dashboard_session_valid(uow, request.cookies.get(COOKIE), moment))
            if not allowed:
                return _html(hstats.dashboard_error_html(T.DASH_FORBIDDEN), status=403)
            today = moment.astimezone(tz).date()
            data = await hstats.dashboard_data(
                uow, moment, tz, period=period(today) if period else None)
        return _html(hstats.render_dashboard_html(data, refresh_seconds))

    async def login(request: web.Request) -> web.Response:
        moment = now()
        async with uow_factory() as uow:
            session = await hstats.redeem_dashboard_login(uow, request.query.get("t", ""), moment)
            if session is None:
                return _html(hstats.dashboard_error_html(T.DASH_LINK_INVALID), status=403)
            await uow.commit()
        # Relative, so that behind a reverse proxy at a path prefix (docs/deployment.md:
        # `location /dashboard/`) the browser stays under the prefix: /dashboard/login → ./ is
        # /dashboard/, /login → ./ is /. The app cannot see the prefix nginx strips.
        resp = web.HTTPSeeOther(location="./")
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["Cache-Control"] = "no-store"
        # No Path attribute (an empty value is left out): the browser then scopes the cookie to
        # the login link's directory, /dashboard under that prefix (not every path of the
        # host, e.g. the webhook), / at the root.
        resp.set_cookie(COOKIE, session, max_age=int(hstats.SESSION_TTL.total_seconds()),
                        httponly=True, samesite="Lax", path="",
                        secure=request.secure or https_outside)
        raise resp

    async def font(request: web.Request) -> web.StreamResponse:
        path = hstats.cjk_font_path()
        if path is None:
            raise web.HTTPNotFound()
        resp = web.FileResponse(path)
        resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        resp.content_type = "font/otf"
        return resp

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/login", login)
    app.router.add_get("/font/cjk.otf", font)
    return app


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址。")
@click.option("--port", default=8080, show_default=True, type=int, help="监听端口。")
@click.option("--refresh", default=60, show_default=True, type=int, help="页面自动刷新秒数。")
@click.option("--issue-login", is_flag=True,
              help="只生成一个一次性登录链接(10 分钟内有效)并退出。")
@click.option("--public-url", default=None,
              help="大屏对外地址,用于拼接登录链接(默认 ZHITONG_DASHBOARD_URL,"
                   "未设置时 http://HOST:PORT)。")
@click.option("--now", "now_text", default=None, hidden=True, help="固定时刻(ISO,带时区),供演示与测试。")
def dashboard(host: str, port: int, refresh: int, issue_login: bool, public_url: str | None,
              now_text: str | None) -> None:
    """启动只读大屏(令牌或一次性登录链接访问)。"""
    settings = Settings()
    tz = ZoneInfo(settings.timezone)
    base = dashboard_base_url(public_url, settings, host, port)
    if issue_login:
        token = run_async(_issue(settings, _parse_now(now_text)))
        click.echo(hstats.dashboard_login_url(base, token))
        return
    fixed = _parse_now(now_text) if now_text else None

    def clock() -> datetime:
        return fixed or datetime.now(UTC)

    async def build() -> web.Application:
        # No schema check here: a dashboard started before PostgreSQL answers (a boot, a
        # fail-over, or beside `db upgrade` in a Procfile) serves once it does.
        engine, factory = _factory(settings)
        app = make_dashboard_app(factory, token=settings.dashboard_token, tz=tz, now=clock,
                                 refresh_seconds=refresh,
                                 https_outside=base.lower().startswith("https://"))

        async def close(_app: web.Application) -> None:
            await engine.dispose()

        app.on_cleanup.append(close)
        return app

    if not settings.dashboard_token:
        click.echo(texts.DASHBOARD_NO_TOKEN, err=True)
    click.echo(texts.DASHBOARD_STARTED.format(url=base))
    web.run_app(build(), host=host, port=port, print=None)
    sys.stdout.flush()


def dashboard_base_url(public_url: str | None, settings: Settings, host: str, port: int) -> str:
    """Where browsers reach the dashboard: --public-url, else ZHITONG_DASHBOARD_URL (the base the
    bot's /dashboard links use too), else the address listened on."""
    if public_url:
        return public_url
    # The setting has a default; only a value actually given (environment or zhitong.toml)
    # outranks the listen address, which may differ from that default.
    if "dashboard_url" in settings.model_fields_set and settings.dashboard_url.strip():
        return settings.dashboard_url.strip()
    netloc = f"[{host}]" if ":" in host else host  # an IPv6 address needs brackets in a URL
    return f"http://{netloc}:{port}"


async def _issue(settings: Settings, now: datetime) -> str:
    engine, factory = _factory(settings)
    try:
        await require_schema(engine)
        async with factory() as uow:
            token = await hstats.issue_dashboard_login(uow, now, timedelta(minutes=10))
            await uow.commit()
            return token
    finally:
        await engine.dispose()
