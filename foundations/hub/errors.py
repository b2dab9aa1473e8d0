"""Errors of the hub, each naming the model, file or location it is about."""

from __future__ import annotations


class HubError(Exception):
    """Anything that went wrong reading or writing a hub."""


class HubNotFoundError(HubError, FileNotFoundError):
    """A hub, model, version or file that does not exist."""


class HubUnreachableError(HubError, ConnectionError):
    """The hub could not be contacted (network down, server gone)."""


class UnsafeFileError(HubError):
    """A file the hub refuses to read: a pickle, an unknown kind, or a path escaping the root."""


class IntegrityError(HubError):
    """A file whose sha256 does not match the one its card records.

    Attributes:
        path: The file (as named in the card or on disk).
        expected: The sha256 the card records.
        actual: The sha256 of the bytes read.
    """

    def __init__(self, path: str, expected: str, actual: str) -> None:
        super().__init__(
            f"{path}: sha256 mismatch: the card records {expected}, the file has {actual} "
            "(corrupted or tampered with; it was not used)"
        )
        self.path = path
        self.expected = expected
        self.actual = actual


class CardError(HubError, ValueError):
    """A card or index that is not valid JSON of the documented schema."""
