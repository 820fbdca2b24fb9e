"""Through the chat: the re-asked rating buttons work, and a reminder reaches the official."""

from __future__ import annotations

from typing import Any

import pytest

from domain.clock import FrozenClock
from handlers import texts as htexts
from handlers.config import DeskConfig
from handlers.tickets import check_accept, check_resolve
from scheduler import texts
from tests.dialog import Dialog
from tests.factories import act, load_example_org, submit, ticket
from tests.scheduler.conftest import HAN, WANG, bj, sweep


class NoTagger:
    """Nobody types a report in these dialogs: only buttons are pressed."""

    def tag(self, text: str) -> Any:
        raise AssertionError("no text is tagged in this test")

    def similarity(self, a: str, b: str) -> float:
        return 0.0


@pytest.fixture
def tagger() -> NoTagger:
    return NoTagger()


async def test_reasked_rating_buttons_close_the_ticket(uow_factory: Any, config: DeskConfig,
                                                       tagger: NoTagger) -> None:
    clock = FrozenClock(bj(2026, 11, 24, 9))
    dialog = Dialog(uow_factory, clock, config, tagger)
    await load_example_org(uow_factory, clock.now())
    t = await submit(uow_factory, clock.now(), config, category="site")
    await act(uow_factory, "wang", bj(2026, 11, 24, 10), config,
              lambda ctx: check_accept(ctx, t.id))

    clock.set(bj(2026, 11, 26, 18))
    await sweep(uow_factory, clock.now(), config)
    while await dialog.sender.deliver_once():
        pass
    assert dialog.last(WANG).text.startswith("⏳")  # the before-due reminder
    assert f"#{t.number}" in dialog.last(WANG).text

    await act(uow_factory, "wang", bj(2026, 11, 27, 10), config,
              lambda ctx: check_resolve(ctx, t.id, "已协调派出所处置"))
    clock.set(bj(2026, 12, 1, 10))
    result = await sweep(uow_factory, clock.now(), config)
    assert len(result["reask"]) == 1
    while await dialog.sender.deliver_once():
        pass
    reask = dialog.last(HAN)
    assert reask.text == texts.reask_rating(t.number, "县公安局", "已协调派出所处置")
    assert reask.words() == [htexts.BTN_SATISFIED, htexts.BTN_BASICALLY, htexts.BTN_UNSATISFIED]

    await dialog.press(HAN, "基本满意", on=reask)
    done = await ticket(uow_factory, t.id)
    assert done.status == "closed" and done.rating == "basically"
    clock.set(bj(2026, 12, 8, 10))
    assert not (await sweep(uow_factory, clock.now(), config))["autoclose"]
