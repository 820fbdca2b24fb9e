"""The ticket lifecycle (DESIGN §4) as a pure state machine: every legal move, and the rest refused."""

from __future__ import annotations

import pytest

from domain import texts
from domain.errors import DomainError, IllegalTransition
from domain.lifecycle import (
    OPEN_STATUSES,
    Action,
    Rating,
    TicketStatus,
    allowed_actions,
    next_status,
)

S = TicketStatus
A = Action

# Written out here from DESIGN §4, not read from the module: the test is the second opinion.
LEGAL: dict[tuple[TicketStatus | None, Action], TicketStatus] = {
    (None, A.SUBMIT): S.SUBMITTED,
    # 待受理
    (S.SUBMITTED, A.ACCEPT): S.IN_PROGRESS,
    (S.SUBMITTED, A.TRANSFER): S.SUBMITTED,  # 转办: submitted at another unit
    (S.SUBMITTED, A.RETURN): S.SUBMITTED,  # 退回: to the dispatcher
    (S.SUBMITTED, A.REROUTE): S.SUBMITTED,  # the dispatcher re-routes a returned ticket
    (S.SUBMITTED, A.ADD_CO_UNIT): S.SUBMITTED,
    (S.SUBMITTED, A.LINK_DUPLICATE): S.SUBMITTED,
    # 办理中
    (S.IN_PROGRESS, A.REQUEST_EXTENSION): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.APPROVE_EXTENSION): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.REFUSE_EXTENSION): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.RESOLVE): S.RESOLVED,
    (S.IN_PROGRESS, A.ADD_CO_UNIT): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.LINK_DUPLICATE): S.IN_PROGRESS,
    # 已办结,待评价
    (S.RESOLVED, A.RATE): S.CLOSED,  # 满意 / 基本满意
    (S.RESOLVED, A.REOPEN): S.IN_PROGRESS,  # 不满意 → 重办
    (S.RESOLVED, A.CLOSE_UNRATED): S.CLOSED,
}

ALL_PAIRS = [(s, a) for s in [None, *TicketStatus] for a in Action]
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in LEGAL]


@pytest.mark.parametrize(("current", "action"), list(LEGAL), ids=lambda v: str(v))
def test_every_legal_transition(current: TicketStatus | None, action: Action) -> None:
    assert next_status(current, action) == LEGAL[(current, action)]


@pytest.mark.parametrize(("current", "action"), ILLEGAL, ids=lambda v: str(v))
def test_everything_else_is_illegal_with_a_chinese_sentence(
    current: TicketStatus | None, action: Action
) -> None:
    with pytest.raises(IllegalTransition) as info:
        next_status(current, action)
    assert isinstance(info.value, DomainError)
    assert info.value.message == texts.illegal_transition(str(current or "none"), str(action))
    assert "不能" in info.value.message


@pytest.mark.parametrize(("current", "action", "words"), [
    (S.SUBMITTED, A.RESOLVE, ("待受理", "办结")),
    (S.CLOSED, A.ACCEPT, ("已办结", "受理")),
    (S.CLOSED, A.REOPEN, ("已办结", "重办")),
    (S.IN_PROGRESS, A.RATE, ("办理中", "评价")),
    (S.RESOLVED, A.TRANSFER, ("已办结,待评价", "转办")),
    (S.SUBMITTED, A.APPROVE_EXTENSION, ("待受理", "批准延期")),
])
def test_sample_of_illegal_moves_reads_well(
    current: TicketStatus, action: Action, words: tuple[str, str]
) -> None:
    with pytest.raises(IllegalTransition) as info:
        next_status(current, action)
    status_word, action_word = words
    assert f"「{status_word}」" in info.value.message and action_word in info.value.message


def test_closed_is_final() -> None:
    assert allowed_actions(S.CLOSED) == frozenset()


def test_allowed_actions_match_the_table() -> None:
    for status in TicketStatus:
        expected = {a for (s, a) in LEGAL if s == status}
        assert allowed_actions(status) == expected


def test_only_submit_starts_a_ticket() -> None:
    assert [a for a in Action if (None, a) in LEGAL] == [A.SUBMIT]


def test_open_statuses() -> None:
    assert {S.SUBMITTED, S.IN_PROGRESS} == OPEN_STATUSES


def test_a_full_story_walks_the_machine() -> None:
    status: TicketStatus | None = None
    for action in (A.SUBMIT, A.TRANSFER, A.RETURN, A.REROUTE, A.ACCEPT, A.REQUEST_EXTENSION,
                   A.APPROVE_EXTENSION, A.RESOLVE, A.REOPEN, A.RESOLVE, A.RATE):
        status = next_status(status, action)
    assert status == S.CLOSED


def test_values_are_the_stored_strings() -> None:
    assert [str(s) for s in TicketStatus] == ["submitted", "in_progress", "resolved", "closed"]
    assert {str(r) for r in Rating} == {"satisfied", "basically", "unsatisfied"}
    for action in Action:
        assert action.value in texts.ACTION_NAMES, action
    for status in TicketStatus:
        assert status.value in texts.STATUS_NAMES
