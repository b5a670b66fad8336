"""Cancellation, one type for the whole application.

Long work takes a ``cancel()`` callable and checks it between chunks; when it returns True the work raises
``Cancelled``, which every layer (aligner, recogniser, sampler, engines, the process runner, the app) lets through
as a state rather than an error.
"""

from __future__ import annotations

from collections.abc import Callable

CancelFn = Callable[[], bool]


class Cancelled(Exception):  # noqa: N818 - a state, not a failure; reads better at call sites
    """The caller's cancel() returned True."""


def check(cancel: CancelFn | None, message: str = "cancelled") -> None:
    """Raise Cancelled when ``cancel`` says so."""
    if cancel is not None and cancel():
        raise Cancelled(message)
