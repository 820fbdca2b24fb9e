"""The big-screen dashboard on a seeded database: over HTTP, at the root and behind a proxy at a
path prefix (docs/deployment.md), in a real headless Chromium, and `zhitong dashboard
--issue-login`.

The Chromium tests skip with the reason when it is not installed (`make setup` installs it with
apt-get). The screenshot is saved under the test's tmp dir, and copied to
$ZHITONG_ARTIFACTS_DIR if set.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner
from multidict import CIMultiDict
from yarl import URL

from bot.cli import main
from bot.cli_stats import dashboard_base_url, make_dashboard_app
from bot.settings import Settings
from handlers import stats_texts as T
from handlers.stats import DEFAULT_DASHBOARD_URL, issue_dashboard_login
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade
from storage.uow import UnitOfWorkFactory
from tests.storage.test_stats_queries import NOVEMBER, NOW, SH, seed_desk

TOKEN = "configured-dashboard-token-123"


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Page(HTMLParser):
    """Texts of the headline tiles, unit rows and project items, by id / data attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.tiles: dict[str, list[str]] = {}
        self.units: dict[str, list[str]] = {}
        self.projects: dict[str, str] = {}
        self.bars: list[tuple[str, str, str]] = []
        self.error = ""
        self._stack: list[tuple[str, str, str]] = []  # (tag, kind, key)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        kind = key = ""
        if tag == "div" and "tile" in a.get("class", "") and a.get("id"):
            kind, key = "tile", a["id"]
            self.tiles[key] = []
        elif tag == "tr" and a.get("data-unit"):
            kind, key = "unit", a["data-unit"]
            self.units[key] = []
        elif tag == "li" and a.get("data-project"):
            kind, key = "project", a["data-project"]
            self.projects[key] = a.get("data-colour", "")
        elif tag == "p" and a.get("id") == "error":
            kind = "error"
        elif tag == "rect" and a.get("data-week"):
            self.bars.append((a["data-week"], a["data-kind"], a["data-value"]))
        if tag not in ("rect", "line", "meta", "link", "br"):
            self._stack.append((tag, kind, key))

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            t, _, _ = self._stack.pop()
            if t == tag:
                break

    def handle_data(self, data: str) -> None:
        text = data.strip()
        if not text:
            return
        for _, kind, key in reversed(self._stack):
            if kind == "tile":
                self.tiles[key].append(text)
                return
            if kind == "unit":
                self.units[key].append(text)
                return
            if kind == "error":
                self.error += text
                return


@contextlib.asynccontextmanager
async def local_site(app: web.Application) -> AsyncIterator[str]:
    """`app` served on a free 127.0.0.1 port: its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def server(sqlite_url: str) -> AsyncIterator[tuple[str, UnitOfWorkFactory]]:
    engine = make_engine(sqlite_url)
    factory = UnitOfWorkFactory(make_sessionmaker(engine))
    await seed_desk(factory)
    app = make_dashboard_app(factory, token=TOKEN, tz=SH, now=lambda: NOW,
                             period=lambda _today: NOVEMBER)
    async with local_site(app) as base:
        yield base, factory
        await engine.dispose()


async def chromium(binary: str, url: str, tmp: Path, *extra: str) -> str:
    args = [binary, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--no-first-run",
            "--disable-dev-shm-usage", f"--user-data-dir={tmp / 'profile'}",
            "--window-size=1920,1080", *extra, url]
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode()


def _browser() -> str:
    binary = chromium_binary()
    if binary is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; `make setup` does it)")
    return binary


async def test_dashboard_shows_the_seeded_figures(server: tuple[str, Any], tmp_path: Path) -> None:
    binary = _browser()
    base, _ = server
    dom = await chromium(binary, f"{base}/?token={TOKEN}", tmp_path, "--dump-dom")
    page = Page()
    page.feed(dom)
    # Hand-computed November figures (tests/storage/test_stats_queries.py: TOTAL).
    assert page.tiles["submitted"][1] == "13"
    assert page.tiles["response_rate"][1] == "83.3%"
    assert page.tiles["resolution_rate"][1] == "69.2%"
    assert page.tiles["on_time_rate"][1] == "90.0%"
    assert page.tiles["satisfaction_rate"][1:] == ["87.5%", "已评价 8 · 未评价 2"]
    assert page.tiles["reopen_rate"][1] == "10.0%"
    assert page.tiles["overdue_open"][1] == "2"
    assert page.tiles["days"][1] == "1.5"
    assert page.units["zrzy"] == ["县自然资源局", "7", "57.1%", "80.0%", "66.7%", "2"]
    assert page.units["gdj"] == ["县供电公司", "5", "100.0%", "100.0%", "100.0%", "0"]
    assert page.units["fgw"] == ["县发改委", "1", "0.0%", "—", "—", "0"]
    assert page.projects == {"P1": "green", "P2": "red", "P3": "none"}
    assert "未评定" in dom
    assert ("2026-11-16", "submitted", "7") in page.bars
    assert ("2026-11-16", "resolved", "6") in page.bars
    assert '<meta http-equiv="refresh"' in dom

    shot = tmp_path / "dashboard.png"
    await chromium(binary, f"{base}/?token={TOKEN}", tmp_path, f"--screenshot={shot}")
    keep_screenshot(shot)


def keep_screenshot(shot: Path) -> None:
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 20_000
    artifacts = os.environ.get("ZHITONG_ARTIFACTS_DIR")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / "dashboard.png")


async def test_dashboard_refuses_without_a_valid_token(server: tuple[str, Any],
                                                       tmp_path: Path) -> None:
    base, _ = server
    async with aiohttp.ClientSession() as http:
        for url in (f"{base}/", f"{base}/?token=wrong", f"{base}/?token="):
            async with http.get(url) as resp:
                assert resp.status == 403
                body = await resp.text()
                assert T.DASH_FORBIDDEN in body and "县自然资源局" not in body
        async with http.get(f"{base}/?token={TOKEN}") as resp:
            assert resp.status == 200
            assert resp.headers["Cache-Control"] == "no-store"
            assert resp.headers["Referrer-Policy"] == "no-referrer"
    binary = _browser()
    page = Page()
    page.feed(await chromium(binary, f"{base}/?token=nope", tmp_path, "--dump-dom"))
    assert page.error == T.DASH_FORBIDDEN and not page.tiles


async def test_single_use_login_link_sets_a_session(server: tuple[str, UnitOfWorkFactory],
                                                    tmp_path: Path) -> None:
    base, factory = server
    async with factory() as uow:
        token = await issue_dashboard_login(uow, NOW, timedelta(minutes=10))
        expired = await issue_dashboard_login(uow, NOW - timedelta(hours=1), timedelta(minutes=10))
        browser_token = await issue_dashboard_login(uow, NOW, timedelta(minutes=10))
        await uow.commit()
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(f"{base}/login?t={token}") as resp:
            assert resp.status == 200  # redirected to the page, the cookie opened it
            assert "县自然资源局" in await resp.text()
        async with http.get(f"{base}/") as resp:
            assert resp.status == 200
    async with aiohttp.ClientSession() as http:
        for t in (token, expired, "made-up"):  # used once already, expired, unknown
            async with http.get(f"{base}/login?t={t}", allow_redirects=False) as resp:
                assert resp.status == 403
                assert T.DASH_LINK_INVALID in await resp.text()
        async with http.get(f"{base}/", cookies={"zhitong_dash": "forged"}) as resp:
            assert resp.status == 403
    binary = _browser()
    page = Page()
    page.feed(await chromium(binary, f"{base}/login?t={browser_token}", tmp_path, "--dump-dom"))
    assert page.tiles["submitted"][1] == "13"


async def test_font_is_served_for_tvs_without_chinese_fonts(server: tuple[str, Any]) -> None:
    base, _ = server
    async with aiohttp.ClientSession() as http, http.get(f"{base}/font/cjk.otf") as resp:
        assert resp.status == 200
        head = await resp.content.read(4)
        assert head in (b"OTTO", b"\x00\x01\x00\x00", b"ttcf")


# --- behind a reverse proxy at a path prefix (docs/deployment.md) --------------------------------


@pytest.fixture
async def proxied(server: tuple[str, UnitOfWorkFactory]) -> AsyncIterator[str]:
    """The documented nginx, in miniature: `location /dashboard/ { proxy_pass
    http://127.0.0.1:8080/; }` (the prefix stripped, answers passed on as they are, redirects
    not followed) and `location / { return 404; }`. Yields the public URL, …/dashboard."""
    upstream, _ = server
    http = aiohttp.ClientSession()

    async def forward(request: web.Request) -> web.Response:
        headers = {"Cookie": request.headers["Cookie"]} if "Cookie" in request.headers else {}
        async with http.get(URL(upstream).with_path("/" + request.match_info["tail"])
                            .with_query(request.query), headers=headers,
                            allow_redirects=False) as up:
            body = await up.read()
            passed = CIMultiDict((k, v) for k, v in up.headers.items()
                                 if k in ("Location", "Set-Cookie", "Content-Type"))
            return web.Response(body=body, status=up.status, headers=passed)

    async def not_found(_request: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_get("/dashboard/{tail:.*}", forward)
    app.router.add_get("/{tail:.*}", not_found)
    try:
        async with local_site(app) as base:
            yield f"{base}/dashboard"
    finally:
        await http.close()


async def _log_in_and_load_the_font(factory: UnitOfWorkFactory, public: str) -> str:
    """Follow a login link on `public` as a browser would; the page and the font its CSS names
    must load. Returns the page's URL."""
    async with factory() as uow:
        token = await issue_dashboard_login(uow, NOW, timedelta(minutes=10))
        await uow.commit()
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(f"{public}/login?t={token}") as resp:
            assert resp.status == 200, resp.url
            page_url = str(resp.url)
            body = await resp.text()
        assert "县自然资源局" in body
        font = re.search(r"src: url\(([^)]+)\)", body)
        assert font is not None
        async with http.get(urljoin(page_url, font.group(1))) as resp:
            assert resp.status == 200, resp.url
            assert await resp.content.read(4) in (b"OTTO", b"\x00\x01\x00\x00", b"ttcf")
        async with http.get(page_url) as resp:  # the session holds on the next visit
            assert resp.status == 200
    return page_url


async def test_login_and_font_stay_under_a_path_prefix(
        server: tuple[str, UnitOfWorkFactory], proxied: str) -> None:
    _, factory = server
    page_url = await _log_in_and_load_the_font(factory, proxied)
    assert page_url == proxied + "/"


async def test_login_and_font_at_the_root(server: tuple[str, UnitOfWorkFactory]) -> None:
    base, factory = server
    page_url = await _log_in_and_load_the_font(factory, base)
    assert page_url == base + "/"


async def test_session_cookie_is_scoped_to_the_dashboard_path(
        server: tuple[str, UnitOfWorkFactory], proxied: str) -> None:
    """Not sent to the rest of the host (the webhook's location, say)."""
    _, factory = server
    async with factory() as uow:
        token = await issue_dashboard_login(uow, NOW, timedelta(minutes=10))
        await uow.commit()
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http, \
            http.get(f"{proxied}/login?t={token}", allow_redirects=False) as resp:
        assert resp.status == 303
        assert "Path=" not in resp.headers["Set-Cookie"]
    root = URL(proxied).with_path("/")
    assert jar.filter_cookies(URL(proxied + "/")).get("zhitong_dash") is not None
    assert jar.filter_cookies(root.with_path("/telegram/webhook")).get("zhitong_dash") is None


async def test_the_session_cookie_is_secure_when_browsers_come_over_https(
        sqlite_url: str) -> None:
    # Behind nginx's TLS the app hears plain HTTP: its public address decides.
    engine = make_engine(sqlite_url)
    await asyncio.to_thread(upgrade, sqlite_url)
    factory = UnitOfWorkFactory(make_sessionmaker(engine))
    try:
        for https, secure in ((True, True), (False, False)):
            async with factory() as uow:
                token = await issue_dashboard_login(uow, NOW, timedelta(minutes=10))
                await uow.commit()
            app = make_dashboard_app(factory, token="x", tz=SH, now=lambda: NOW,
                                     https_outside=https)
            async with TestClient(TestServer(app)) as client:
                resp = await client.get(f"/login?t={token}", allow_redirects=False)
                assert resp.status == 303
                assert ("Secure" in resp.headers["Set-Cookie"]) is secure
    finally:
        await engine.dispose()


def test_dashboard_login_under_the_documented_public_url_stays_under_it(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/deployment.md puts the dashboard behind nginx with `--public-url
    https://bot.example.gov.cn/dashboard` (`location /dashboard/ { proxy_pass
    http://127.0.0.1:8080/; }`, and `location / { return 404; }`): the login's redirect must
    stay under …/dashboard/."""
    monkeypatch.setenv("ZHITONG_DATABASE_URL", sqlite_url)
    public = "https://bot.example.gov.cn/dashboard"
    out = CliRunner().invoke(main, ["dashboard", "--issue-login", "--public-url", public])
    assert out.exit_code == 0, out.output
    login_url = out.output.strip().splitlines()[-1]
    assert login_url.startswith(public + "/login?t=")

    async def follow() -> str:
        engine = make_engine(sqlite_url)
        app = make_dashboard_app(UnitOfWorkFactory(make_sessionmaker(engine)), token="x",
                                 tz=ZoneInfo("Asia/Shanghai"))
        try:
            async with TestClient(TestServer(app)) as client:
                # nginx strips the prefix: …/dashboard/login reaches the app as /login.
                resp = await client.get("/login?" + login_url.split("?", 1)[1],
                                        allow_redirects=False)
                assert resp.status == 303
                return resp.headers["Location"]
        finally:
            await engine.dispose()

    location = asyncio.run(follow())
    assert urljoin(login_url, location) == public + "/", location


# --- which address the login links name -----------------------------------------------------------


@pytest.fixture
def cli_env(sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)  # no zhitong.toml from the working directory
    monkeypatch.delenv("ZHITONG_DASHBOARD_URL", raising=False)
    monkeypatch.setenv("ZHITONG_DATABASE_URL", sqlite_url)
    return monkeypatch


def _issue_login(*args: str) -> str:
    out = CliRunner().invoke(main, ["dashboard", "--issue-login", *args])
    assert out.exit_code == 0, out.output
    return out.output.strip().splitlines()[-1]


def test_issue_login_uses_the_configured_dashboard_url(cli_env: pytest.MonkeyPatch) -> None:
    """--public-url, else ZHITONG_DASHBOARD_URL, else the address listened on."""
    cli_env.setenv("ZHITONG_DASHBOARD_URL", "https://bot.example.gov.cn/dash")
    assert _issue_login().startswith("https://bot.example.gov.cn/dash/login?t=")
    assert _issue_login("--port", "9090").startswith("https://bot.example.gov.cn/dash/login?t=")
    assert _issue_login("--public-url", "https://tv.example/d/").startswith(
        "https://tv.example/d/login?t=")
    cli_env.delenv("ZHITONG_DASHBOARD_URL")
    assert _issue_login().startswith("http://127.0.0.1:8080/login?t=")
    assert _issue_login("--host", "::1", "--port", "9090").startswith("http://[::1]:9090/login?t=")


def test_cli_and_chat_links_share_one_base(cli_env: pytest.MonkeyPatch) -> None:
    """The bot's /dashboard builds links on Settings().dashboard_url (bot/app.py); the CLI's
    default (nothing configured, default host and port) is that same address."""
    settings = Settings()
    assert dashboard_base_url(None, settings, "127.0.0.1", 8080) == settings.dashboard_url \
        == DEFAULT_DASHBOARD_URL
    cli_env.setenv("ZHITONG_DASHBOARD_URL", "https://bot.example.gov.cn/dash")
    settings = Settings()
    assert dashboard_base_url(None, settings, "0.0.0.0", 9090) == settings.dashboard_url \
        == "https://bot.example.gov.cn/dash"


ZHITONG = str(Path(sys.executable).with_name("zhitong"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_dashboard_stays_up_while_postgresql_is_still_down(tmp_path: Path) -> None:
    # Started at boot before PostgreSQL, or beside `db upgrade` in a Procfile (whose runner
    # stops every process once one exits): it serves once the database answers.
    dead, port = free_port(), free_port()  # nothing listens on `dead`
    env = {**os.environ, "ZHITONG_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{dead}/x",
           "ZHITONG_DASHBOARD_TOKEN": "t"}
    proc = subprocess.Popen([ZHITONG, "dashboard", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
        time.sleep(1)
        assert proc.poll() is None, proc.communicate()[1][-600:]
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)
