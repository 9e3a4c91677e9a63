"""Load many generated clinical rows fast, each with its history row (the audit trail stays whole).

Used by `generate_clinic` to build a clinic-network-sized database: ids are allocated here, so rows of
related tables can be written without reading ids back; PostgreSQL gets COPY, other databases
`bulk_create`. Every row gets a "+" (created) history row with the same values.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.management.color import no_style
from django.db import connection, models
from django.db.models import Max

from patients.querysets import _allow_history_bulk_write


class BulkLoader:
    def __init__(self, models_in_order: Sequence[type[models.Model]], *, now: datetime.datetime, reason: str) -> None:
        self.models = list(models_in_order)  # parents before children
        self.now = now
        self.reason = reason
        self.rows: dict[type[models.Model], list[dict[str, Any]]] = {model: [] for model in self.models}
        self.next_id = {model: (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1 for model in self.models}
        self.written = dict.fromkeys(self.models, 0)
        self._fields = {model: list(model._meta.concrete_fields) for model in self.models}

    def add(self, model: type[models.Model], **values: Any) -> int:
        """Queue one row (field attnames to values; unset fields get their defaults); returns its id."""
        pk = self.next_id[model]
        self.next_id[model] = pk + 1
        values["id"] = pk
        self.rows[model].append(values)
        return pk

    def pending(self) -> int:
        return sum(len(rows) for rows in self.rows.values())

    def flush(self) -> None:
        for model in self.models:
            rows = self.rows[model]
            if rows:
                self._write(model, rows)
                self.written[model] += len(rows)
                self.rows[model] = []

    def finish(self) -> None:
        self.flush()
        if connection.vendor == "postgresql":
            history = [model.history.model for model in self.models]  # type: ignore[attr-defined]
            with connection.cursor() as cursor:
                for statement in connection.ops.sequence_reset_sql(no_style(), [*self.models, *history]):
                    cursor.execute(statement)

    def _values(self, model: type[models.Model], row: dict[str, Any]) -> list[Any]:
        values = []
        for field in self._fields[model]:
            if field.attname in row:
                values.append(row[field.attname])
            elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                values.append(self.now)
            else:
                values.append(field.get_default())
        return values

    def _write(self, model: type[models.Model], rows: list[dict[str, Any]]) -> None:
        history = model.history.model  # type: ignore[attr-defined]
        columns = [field.column for field in self._fields[model]]
        table_rows = [self._values(model, row) for row in rows]
        extra = ["history_date", "history_change_reason", "history_type", "history_user_id"]
        history_rows = [[*values, self.now, self.reason, "+", None] for values in table_rows]
        if connection.vendor == "postgresql":
            self._copy(model._meta.db_table, columns, table_rows)
            self._copy(history._meta.db_table, columns + extra, history_rows)
            return
        attnames = [field.attname for field in self._fields[model]]
        history_attnames = [*attnames, "history_date", "history_change_reason", "history_type", "history_user_id"]
        with _allow_history_bulk_write():
            model.objects.bulk_create(
                [model(**dict(zip(attnames, v, strict=True))) for v in table_rows], batch_size=500
            )
        history.objects.bulk_create(
            [history(**dict(zip(history_attnames, v, strict=True))) for v in history_rows], batch_size=500
        )

    @staticmethod
    def _copy(table: str, columns: list[str], rows: Iterable[list[Any]]) -> None:
        quote = connection.ops.quote_name
        sql = f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
