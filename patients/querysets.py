"""A QuerySet for clinical records that refuses writes which would skip the audit trail.

django-simple-history records changes from model signals; `QuerySet.update()` and `bulk_update()`
send none, and `bulk_create()` sends none either. So they are refused, except `bulk_create` and
`bulk_update` made through the history-keeping wrappers below.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from django.db import NotSupportedError, models
from simple_history import utils as history_utils

_M = TypeVar("_M", bound=models.Model)

_history_bulk_write: ContextVar[bool] = ContextVar("history_bulk_write", default=False)


class AuditBypassError(NotSupportedError):
    """A write that would change clinical records without leaving history rows."""


@contextmanager
def _allow_history_bulk_write() -> Iterator[None]:
    token = _history_bulk_write.set(True)
    try:
        yield
    finally:
        _history_bulk_write.reset(token)


class AuditedQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        if _history_bulk_write.get():  # bulk_update() is built on update()
            return super().update(**kwargs)
        raise AuditBypassError(
            f"{self.model.__name__}.objects.update() would skip the audit trail; "
            "load the records and change them through patients.services."
        )

    def bulk_update(self, objs: Iterable[Any], fields: Sequence[str], batch_size: int | None = None) -> int:
        if not _history_bulk_write.get():
            raise AuditBypassError(
                f"{self.model.__name__}.objects.bulk_update() would skip the audit trail; "
                "use patients.querysets.bulk_update_with_history."
            )
        return super().bulk_update(objs, fields, batch_size=batch_size)

    def bulk_create(self, objs: Iterable[Any], *args: Any, **kwargs: Any) -> list[Any]:
        if not _history_bulk_write.get():
            raise AuditBypassError(
                f"{self.model.__name__}.objects.bulk_create() would skip the audit trail; "
                "use patients.querysets.bulk_create_with_history."
            )
        return super().bulk_create(objs, *args, **kwargs)


AuditedManager = models.Manager.from_queryset(AuditedQuerySet)


def bulk_create_with_history(objs: Iterable[_M], model: type[_M], **kwargs: Any) -> list[_M]:
    """simple_history's bulk_create_with_history, which writes one history row per object."""
    with _allow_history_bulk_write():
        return history_utils.bulk_create_with_history(list(objs), model, **kwargs)


def bulk_update_with_history(objs: Iterable[_M], model: type[_M], fields: Sequence[str], **kwargs: Any) -> int:
    """simple_history's bulk_update_with_history, which writes one history row per object."""
    with _allow_history_bulk_write():
        return history_utils.bulk_update_with_history(list(objs), model, list(fields), **kwargs)
