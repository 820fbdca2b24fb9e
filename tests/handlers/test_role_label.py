"""The role an audit row records: what the person acted as, not just the first role they hold."""

from __future__ import annotations

from domain.permissions import Actor
from handlers.tickets import role_label
from storage.models import Ticket

ROADS, WATER, DISPATCH = 3, 4, 9


def ticket(unit_id: int = ROADS, co_units: tuple[int, ...] = ()) -> Ticket:
    return Ticket(project_id=1, unit_id=unit_id, co_unit_ids=list(co_units))


def actor(*roles: str, unit_id: int | None = None, dispatcher: bool = False,
          contact_of: frozenset[int] = frozenset()) -> Actor:
    return Actor(account_id=7, roles=frozenset(roles), unit_id=unit_id,
                 unit_is_dispatcher=dispatcher, contact_project_ids=contact_of)


def test_an_admin_who_is_also_an_official_is_recorded_by_what_they_acted_as() -> None:
    both = actor("admin", "official", unit_id=WATER)
    assert role_label(both, ticket(unit_id=WATER)) == "official"  # their own unit's ticket
    assert role_label(both, ticket(unit_id=ROADS, co_units=(WATER,))) == "official"  # co-unit
    assert role_label(both, ticket(unit_id=ROADS)) == "admin"  # only an admin may act here
    assert role_label(actor("admin", "official", unit_id=DISPATCH, dispatcher=True),
                      ticket(unit_id=ROADS)) == "official"  # the dispatcher re-routes


def test_single_roles_are_recorded_as_they_are() -> None:
    assert role_label(None, ticket()) == "system"
    assert role_label(actor("official", unit_id=WATER), ticket(unit_id=ROADS)) == "official"
    assert role_label(actor("admin"), ticket()) == "admin"
    assert role_label(actor("enterprise", contact_of=frozenset({1})), ticket()) == "enterprise"
