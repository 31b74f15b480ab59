"""Shared mechanics of the spec dataclasses: validation helpers and dict round-trips."""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, TypeVar

from .timeseries import DataError

T = TypeVar("T", bound="SpecBase")


def _fail(cls_name: str, field: str, value: Any, why: str) -> None:
    raise DataError(f"{cls_name}.{field} = {value!r}: {why}")


class SpecBase:
    """Mixin for frozen spec dataclasses: ``from_dict``, ``asdict`` and field checks."""

    @classmethod
    def from_dict(cls: type[T], values: dict[str, Any] | None = None, **overrides: Any) -> T:
        """Build from a mapping (e.g. papermill/YAML parameters); unknown keys are an error."""
        merged = {**(values or {}), **overrides}
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(merged) - names)
        if unknown:
            raise DataError(
                f"{cls.__name__}: unknown field(s) {unknown}; known fields are {sorted(names)}"
            )
        return cls(**merged)

    def asdict(self) -> dict[str, Any]:
        """The fields as a plain dict (round-trips through ``from_dict``)."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def replace(self: T, **changes: Any) -> T:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    # -- checks used by __post_init__ -------------------------------------------------
    def _finite(self, *names: str) -> None:
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):  # numpy too
                _fail(type(self).__name__, name, value, "must be a number")
            if not math.isfinite(value):
                _fail(type(self).__name__, name, value, "must be finite")

    def _non_negative(self, *names: str, allow_inf: bool = False) -> None:
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):  # numpy too
                _fail(type(self).__name__, name, value, "must be a number")
            if math.isnan(value) or value < 0 or (math.isinf(value) and not allow_inf):
                _fail(type(self).__name__, name, value, "must be a finite number >= 0"
                      if not allow_inf else "must be >= 0")

    def _positive(self, *names: str) -> None:
        for name in names:
            value = getattr(self, name)
            self._finite(name)
            if value <= 0:
                _fail(type(self).__name__, name, value, "must be > 0")

    def _fraction(self, *names: str, open_low: bool = False) -> None:
        for name in names:
            value = getattr(self, name)
            self._finite(name)
            if value > 1 or value < 0 or (open_low and value == 0):
                bound = "(0, 1]" if open_low else "[0, 1]"
                _fail(type(self).__name__, name, value, f"must lie in {bound}")

    def _hour(self, *names: str) -> None:
        for name in names:
            value = getattr(self, name)
            self._finite(name)
            if not 0 <= value <= 24:
                _fail(type(self).__name__, name, value, "must be an hour of the day in [0, 24]")

    def _fail(self, name: str, value: Any, why: str) -> None:
        _fail(type(self).__name__, name, value, why)
