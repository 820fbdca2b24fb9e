"""End-to-end fixtures: the real bot over HTTP against the emulator, on both runtimes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from domain.clock import SystemClock
from tests.e2e.world import World


@pytest.fixture(params=["aiogram", "ptb"])
def framework(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def world(database_url: str, framework: str, tagger: object) -> AsyncIterator[World]:
    from storage.db import make_engine, make_sessionmaker
    from storage.uow import UnitOfWorkFactory
    from tests.factories import load_example_org

    engine = make_engine(database_url)
    await load_example_org(UnitOfWorkFactory(make_sessionmaker(engine)), SystemClock().now())
    await engine.dispose()
    w = World(database_url, framework, tagger)  # type: ignore[arg-type]
    await w.start()
    try:
        yield w
        assert w.spec_problems() == []
    finally:
        await w.close()
