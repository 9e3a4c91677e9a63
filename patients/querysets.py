"""A QuerySet for clinical records that refuses writes which would skip the audit trail.

django-simple-history records changes from model signals; `QuerySet.update()` and `bulk_update()`
send none, and `bulk_create()` sends none either. So they are refused, except `bulk_create` and
`bulk_update` made through the history-keeping wrappers below.
"""

from __future__ import annotations

import datetime
import operator
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from django.db import NotSupportedError, connection, models
from django.utils import timezone
from psycopg.types.json import Jsonb
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


def create_with_history(
    objs: Sequence[_M],
    model: type[_M],
    *,
    user: Any,
    reason: str | None,
    date: datetime.datetime,
    batch_size: int = 5000,
) -> None:
    """New rows of `model` with one "+" history row each (by `user`, with `reason`, at `date`), as
    bulk_create_with_history writes them, and faster on PostgreSQL: ids are taken from the table's
    sequence, then rows and history rows go in with COPY (no per-row SQL). Each object gets its id,
    and a child whose parent was written before gets the parent's id. Elsewhere: bulk_create_with_history."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        bulk_create_with_history(
            objs, model, batch_size=batch_size, default_user=user, default_change_reason=reason, default_date=date
        )
        return
    meta = model._meta
    fields = list(meta.concrete_fields)
    parents = [f for f in fields if isinstance(f, models.ForeignKey)]
    stamped = [f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    json_fields = {f.attname for f in fields if isinstance(f, models.JSONField)}
    history = model.history.model  # type: ignore[attr-defined]
    tracked = [f.attname for f in history.tracked_fields]
    now = timezone.now()
    for start in range(0, len(objs), batch_size):
        chunk = objs[start : start + batch_size]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, len(chunk)],
            )
            ids = [row[0] for row in cursor.fetchall()]
        for obj, pk in zip(chunk, ids, strict=True):
            obj.pk = pk
            for field in parents:
                if getattr(obj, field.attname) is None and field.is_cached(obj):
                    parent = field.get_cached_value(obj)
                    if parent is not None:
                        setattr(obj, field.attname, parent.pk)
            for field in stamped:
                setattr(obj, field.attname, now)
            obj._state.adding = False
            obj._state.db = connection.alias

        attnames = [f.attname for f in fields]
        _copy(meta.db_table, [f.column for f in fields], _rows(chunk, attnames, json_fields))
        history_columns = [history._meta.get_field(a).column for a in tracked]
        extra = (date, reason, "+", getattr(user, "pk", None))
        _copy(
            history._meta.db_table,
            [*history_columns, "history_date", "history_change_reason", "history_type", "history_user_id"],
            ([*row, *extra] for row in _rows(chunk, tracked, json_fields)),
        )


def _rows(objs: Iterable[Any], attnames: list[str], json_fields: set[str]) -> Iterator[list[Any]]:
    """Each object's values of `attnames`, JSON fields wrapped for psycopg."""
    values = operator.attrgetter(*attnames)
    wrap = [i for i, name in enumerate(attnames) if name in json_fields]
    for obj in objs:
        row = list(values(obj))
        for i in wrap:
            row[i] = Jsonb(row[i])
        yield row


def _copy(table: str, columns: list[str], rows: Iterable[list[Any]]) -> None:
    quote = connection.ops.quote_name
    sql = f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    # The raw cursor's errors, as Django's own (IntegrityError for a refused row).
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
