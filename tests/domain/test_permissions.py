"""Every role against the matrix of DESIGN §5, incl. the service officer and the dispatcher."""

from __future__ import annotations

import pytest

from domain import texts
from domain.errors import Forbidden
from domain.lifecycle import Action
from domain.permissions import Actor, Role, TicketScope, check_may, may, may_report, may_see

PROJECT, OTHER_PROJECT = 1, 2
UNIT, CO_UNIT, OTHER_UNIT, DISPATCH = 10, 11, 12, 99
REPORTER_ID = 100

TICKET = TicketScope(project_id=PROJECT, unit_id=UNIT, co_unit_ids=frozenset({CO_UNIT}),
                     reporter_id=REPORTER_ID)

ACTORS: dict[str, Actor] = {
    # the enterprise contact who reported it, another contact of the project, and a stranger
    "reporter": Actor(REPORTER_ID, frozenset({"enterprise"}),
                      contact_project_ids=frozenset({PROJECT})),
    "contact": Actor(101, frozenset({"enterprise"}), contact_project_ids=frozenset({PROJECT})),
    "other_enterprise": Actor(102, frozenset({"enterprise"}),
                              contact_project_ids=frozenset({OTHER_PROJECT})),
    # officials: of the handling unit, of a co-handling unit, of an unrelated unit
    "official": Actor(200, frozenset({"official"}), unit_id=UNIT),
    "co_official": Actor(201, frozenset({"official"}), unit_id=CO_UNIT),
    "other_official": Actor(202, frozenset({"official"}), unit_id=OTHER_UNIT),
    "dispatcher": Actor(203, frozenset({"official"}), unit_id=DISPATCH, unit_is_dispatcher=True),
    "official_no_unit": Actor(204, frozenset({"official"})),
    # 分包领导 of this project and of another one
    "leader": Actor(300, frozenset({"leader"}), leader_project_ids=frozenset({PROJECT})),
    "other_leader": Actor(301, frozenset({"leader"}),
                          leader_project_ids=frozenset({OTHER_PROJECT})),
    "admin": Actor(400, frozenset({"admin"})),
    # 首席服务员: an official of another unit who serves this project
    "service_officer": Actor(500, frozenset({"official"}), unit_id=OTHER_UNIT,
                             officer_project_ids=frozenset({PROJECT})),
    "nobody": Actor(600, frozenset()),
}
NAMES = list(ACTORS)


def who(*names: str) -> set[str]:
    assert set(names) <= set(NAMES), set(names) - set(NAMES)
    return set(names)


HANDLERS = who("official", "admin")
DISPATCHERS = who("dispatcher", "admin")
RATERS = who("reporter", "contact")

MATRIX: dict[Action, set[str]] = {
    Action.SUBMIT: who("reporter", "contact", "admin", "service_officer"),
    Action.ACCEPT: HANDLERS,
    Action.TRANSFER: HANDLERS,
    Action.RETURN: HANDLERS,
    Action.RESOLVE: HANDLERS,
    Action.REQUEST_EXTENSION: HANDLERS,
    Action.APPROVE_EXTENSION: DISPATCHERS,
    Action.REFUSE_EXTENSION: DISPATCHERS,
    Action.REROUTE: DISPATCHERS,
    Action.ADD_CO_UNIT: DISPATCHERS,
    Action.LINK_DUPLICATE: DISPATCHERS,
    Action.RATE: RATERS,
    Action.REOPEN: RATERS,
    Action.CLOSE_UNRATED: set(),  # only the system (scheduler) closes unrated tickets
}

SEE = who("reporter", "contact", "official", "co_official", "dispatcher", "leader", "admin",
          "service_officer")


def test_matrix_covers_every_action() -> None:
    assert set(MATRIX) == set(Action)


@pytest.mark.parametrize("action", list(Action), ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_every_role_against_the_matrix(name: str, action: Action) -> None:
    expected = name in MATRIX[action]
    assert may(ACTORS[name], action, TICKET) is expected


@pytest.mark.parametrize("name", NAMES)
def test_who_sees_the_ticket(name: str) -> None:
    assert may_see(ACTORS[name], TICKET) is (name in SEE)


@pytest.mark.parametrize("name", NAMES)
def test_who_may_report_for_the_project(name: str) -> None:
    assert may_report(ACTORS[name], PROJECT) is (name in MATRIX[Action.SUBMIT])


def test_service_officer_only_for_their_own_project() -> None:
    officer = ACTORS["service_officer"]
    assert not may_report(officer, OTHER_PROJECT)
    assert not may_see(officer, TicketScope(project_id=OTHER_PROJECT, unit_id=UNIT))
    # … and files on the enterprise's behalf, but rating stays with the enterprise.
    assert not may(officer, Action.RATE, TICKET)


def test_enterprise_and_leader_see_only_their_projects() -> None:
    elsewhere = TicketScope(project_id=OTHER_PROJECT, unit_id=OTHER_UNIT)
    assert not may_see(ACTORS["reporter"], elsewhere)
    assert not may_see(ACTORS["leader"], elsewhere)
    assert may_see(ACTORS["other_enterprise"], elsewhere)
    assert may_see(ACTORS["other_leader"], elsewhere)


def test_co_handling_unit_sees_but_does_not_handle() -> None:
    co = ACTORS["co_official"]
    assert may_see(co, TICKET)
    for action in (Action.ACCEPT, Action.RESOLVE, Action.TRANSFER, Action.RETURN):
        assert not may(co, action, TICKET)


def test_dispatcher_handles_what_sits_at_the_dispatcher() -> None:
    returned = TicketScope(project_id=PROJECT, unit_id=DISPATCH)
    d = ACTORS["dispatcher"]
    for action in (Action.ACCEPT, Action.TRANSFER, Action.RESOLVE, Action.REROUTE):
        assert may(d, action, returned)
    assert not may(ACTORS["official"], Action.REROUTE, returned)


def test_dispatcher_flag_needs_the_official_role() -> None:
    # Someone placed in the dispatcher unit without the official role dispatches nothing.
    fake = Actor(700, frozenset({"leader"}), unit_id=DISPATCH, unit_is_dispatcher=True)
    assert not fake.is_dispatcher
    assert not may(fake, Action.APPROVE_EXTENSION, TICKET)


def test_reporter_rates_even_without_a_contact_link() -> None:
    former = Actor(REPORTER_ID, frozenset({"enterprise"}))
    assert may(former, Action.RATE, TICKET)
    # … but not an official who happens to have the reporter's id in a forged scope.
    assert not may(Actor(REPORTER_ID, frozenset({"official"}), unit_id=OTHER_UNIT),
                   Action.RATE, TICKET)


def test_one_person_with_several_roles_gets_the_union() -> None:
    zhao = Actor(800, frozenset({"admin", "official"}), unit_id=DISPATCH, unit_is_dispatcher=True)
    for action in (Action.ACCEPT, Action.APPROVE_EXTENSION, Action.SUBMIT):
        assert may(zhao, action, TICKET)
    assert not may(zhao, Action.RATE, TICKET)
    assert zhao.is_admin and zhao.is_official and zhao.is_dispatcher


@pytest.mark.parametrize("action", [Action.ACCEPT, Action.RATE, Action.APPROVE_EXTENSION])
def test_check_may_raises_forbidden_with_a_chinese_sentence(action: Action) -> None:
    with pytest.raises(Forbidden) as info:
        check_may(ACTORS["nobody"], action, TICKET)
    assert info.value.message == texts.forbidden(str(action))
    assert info.value.message.startswith("您没有权限")
    assert texts.ACTION_NAMES[str(action)] in info.value.message


def test_check_may_passes_silently_when_allowed() -> None:
    check_may(ACTORS["official"], Action.ACCEPT, TICKET)


def test_roles_are_the_four_of_the_design() -> None:
    assert {str(r) for r in Role} == {"enterprise", "official", "leader", "admin"}
