"""A model's CheckConstraints evaluated in Python, as the database would evaluate them.

Django's `full_clean()` checks each CheckConstraint by asking the database (one `SELECT` a
constraint a row): right for one form, far too slow for the register import's hundreds of
thousands of rows. `violations()` gives the same verdicts from the instance's values alone, with
SQL's three-valued logic (a comparison with NULL is unknown, and an unknown condition passes, as
in a CHECK), and the same message Django would give. Only the lookups the record's constraints
use are understood; any other raises `Unsupported`, so a new constraint cannot be skipped silently
(tests/patients/test_constraints.py checks every constraint of the record against the database).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from django.db import models
from django.db.models import F, Q


class Unsupported(NotImplementedError):
    pass


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "exact": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
Test = Callable[[Mapping[str, Any]], "bool | None"]


def _lookup(key: str, expected: object) -> Test:
    """One lookup (`field__gte=value`, `field__in=[...]`, `field=F("other")`) as a function of the values."""
    name, _, lookup = key.partition("__")
    lookup = lookup or "exact"
    if "__" in lookup:
        raise Unsupported(f"cannot evaluate {key!r} in Python")
    other = expected.name if isinstance(expected, F) else None
    if lookup == "isnull":
        return lambda values: (values[name] is None) is bool(expected)
    if lookup == "exact" and expected is None:  # Q(field=None) is IS NULL
        return lambda values: values[name] is None
    if lookup == "in":
        allowed = frozenset(expected)  # type: ignore[arg-type]
        return lambda values: None if values[name] is None else values[name] in allowed
    if lookup not in _COMPARE:
        raise Unsupported(f"cannot evaluate the lookup {lookup!r} in Python")
    compare = _COMPARE[lookup]

    def test(values: Mapping[str, Any]) -> bool | None:
        value, against = values[name], values[other] if other else expected
        if value is None or against is None:
            return None  # SQL: a comparison with NULL is unknown
        return compare(value, against)

    return test


def compile_condition(condition: Q) -> Test:
    """`condition` as a function of {field name: value}: True, False or None (SQL's unknown)."""
    tests = [compile_condition(child) if isinstance(child, Q) else _lookup(*child) for child in condition.children]
    if condition.connector not in (Q.AND, Q.OR):
        raise Unsupported(f"cannot evaluate the connector {condition.connector} in Python")
    conjunction, negated = condition.connector == Q.AND, condition.negated

    def test(values: Mapping[str, Any]) -> bool | None:
        results = [each(values) for each in tests]
        if conjunction:
            result = False if False in results else None if None in results else True
        else:
            result = True if True in results else None if None in results else False
        return result if result is None or not negated else not result

    return test


def holds(condition: Q, values: Mapping[str, Any]) -> bool | None:
    """True, False or None (SQL's unknown) for `condition` over {field name: value}."""
    return compile_condition(condition)(values)


def _fields_of(condition: Q) -> Iterable[str]:
    for child in condition.children:
        if isinstance(child, Q):
            yield from _fields_of(child)
        else:
            key, expected = child
            yield key.partition("__")[0]
            if isinstance(expected, F):
                yield expected.name


class _Compiled:
    """One CheckConstraint, compiled, with its verdicts remembered by the values of its fields (rows
    of an import repeat them: the same analyte and unit, no void, the same dose)."""

    __slots__ = ("test", "fields", "message", "attnames", "seen")
    REMEMBER = 4096

    def __init__(self, constraint: models.CheckConstraint, model: type[models.Model]) -> None:
        self.test = compile_condition(constraint.condition)
        self.fields = frozenset(_fields_of(constraint.condition))
        self.message = str(constraint.get_violation_error_message())
        self.attnames = [(f.name, f.attname) for f in model._meta.concrete_fields if f.name in self.fields]
        self.seen: dict[tuple[Any, ...], bool | None] = {}

    def holds(self, instance: models.Model) -> bool | None:
        key = tuple(getattr(instance, attname) for _, attname in self.attnames)
        try:
            return self.seen[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable value (a list in a JSON field): not remembered
            return self.test({name: getattr(instance, attname) for name, attname in self.attnames})
        verdict = self.test({name: value for (name, _), value in zip(self.attnames, key, strict=True)})
        if len(self.seen) < self.REMEMBER:
            self.seen[key] = verdict
        return verdict


@functools.cache
def _compiled(model: type[models.Model]) -> list[_Compiled]:
    return [_Compiled(c, model) for c in model._meta.constraints if isinstance(c, models.CheckConstraint)]


def violations(instance: models.Model, *, exclude: Collection[str] = ()) -> list[str]:
    """The messages of the instance's CheckConstraints that fail, as full_clean() words them; a
    constraint on a field in `exclude` (one that already has an error) is skipped, as there."""
    found = []
    for constraint in _compiled(type(instance)):
        if exclude and not constraint.fields.isdisjoint(exclude):
            continue
        if constraint.holds(instance) is False:
            found.append(constraint.message)
    return found
