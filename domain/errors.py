"""Typed domain errors. Each carries the sentence the person sees (DESIGN §12.9)."""

from __future__ import annotations


class DomainError(Exception):
    """Base: `message` is plain Chinese, safe to show to the user as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class IllegalTransition(DomainError):
    """The ticket is not in a state where this action applies."""


class Forbidden(DomainError):
    """The actor may not do this to this ticket (DESIGN §5)."""


class NotFound(DomainError):
    """The thing asked for does not exist (or the actor may not know it exists)."""


class AlreadyDone(DomainError):
    """A repeated press or a stale button: harmless, nothing changed."""


class InvalidInput(DomainError):
    """The person typed something we cannot use."""
