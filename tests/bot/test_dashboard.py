"""The big-screen dashboard in a real headless Chromium, on a seeded database.

Skips with the reason when Chromium is not installed (`make setup` installs it with apt-get).
The screenshot is saved under the test's tmp dir, and copied to $ZHITONG_ARTIFACTS_DIR if set.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.cli_stats import make_dashboard_app
from handlers import stats_texts as T
from handlers.stats import issue_dashboard_login
from storage.db import make_engine, make_sessionmaker
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


@pytest.fixture
async def server(sqlite_url: str) -> AsyncIterator[tuple[str, UnitOfWorkFactory]]:
    engine = make_engine(sqlite_url)
    factory = UnitOfWorkFactory(make_sessionmaker(engine))
    await seed_desk(factory)
    app = make_dashboard_app(factory, token=TOKEN, tz=SH, now=lambda: NOW,
                             period=lambda _today: NOVEMBER)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}", factory
    finally:
        await runner.cleanup()
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
