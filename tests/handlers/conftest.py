"""Fixtures for desk dialogs: the example organisation loaded, one shared tagger."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from domain.clock import FrozenClock
from handlers.config import DeskConfig
from tests.dialog import Dialog

ZHAO, LI, SUN, QIAN, ZHOU, WU, WANG, FENG, SHEN = (
    900001, 900002, 900003, 900011, 900012, 900013, 900015, 900016, 900021)
HAN, YANG = 800001, 800002


@pytest.fixture
async def dialog(uow_factory: object, clock: FrozenClock, config: DeskConfig,
                 tagger: object) -> AsyncIterator[Dialog]:
    from tests.factories import load_example_org

    await load_example_org(uow_factory, clock.now())
    yield Dialog(uow_factory, clock, config, tagger)  # type: ignore[arg-type]
