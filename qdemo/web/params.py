"""Numbers in requests: the one parser every route of ``browse`` and ``rate`` uses.

A value comes from a URL segment, a query string or a JSON body. Whatever cannot be used
raises :class:`ParamError`, which the server sends as HTTP 400 ``{"error": ...}`` naming
the field and the problem; nothing here ever raises anything else on client input.

- :func:`parse_index` -- a non-negative integer (archive number, cell index, position):
  ASCII digits ``0-9`` only (not ``²`` or ``٣``, which Python's ``int()`` would take), at
  most ``digits`` of them, or a JSON integer.
- :func:`check_fields` -- a JSON body's field names: unknown ones and missing ones are refused
  (the same rule for every endpoint that takes a body).
- :func:`parse_whole` -- a whole number in ``[lo, hi]`` given as a JSON integer: SAM ratings
  are whole points 1-9, so ``5.0``, ``"5"`` and ``true`` are refused, not rounded.
- :func:`parse_number` -- a finite JSON number in ``[lo, hi]`` (response times).
- :func:`json_number_hooks` -- ``json.loads`` hooks that keep numbers Python cannot hold
  (``1e400`` overflows to infinity, a 5000-digit integer exceeds ``int()``'s limit) as an
  :class:`OutOfRange` marker, so the field check names the field instead of the JSON
  parser failing (or infinity slipping through).

Messages show a refused value by :func:`shown`: short, and never the contents of a list or
an object (which may nest a thousand deep or hold an :class:`OutOfRange`).
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_DIGITS = 9
"""Most digits of an index (up to 999,999,999): more is refused before ``int()`` sees it."""

MAX_JSON_INT_DIGITS = 30
"""JSON integer literals longer than this are kept as :class:`OutOfRange` (never converted)."""

_DIGITS = re.compile(r"[0-9]+")  # ASCII only: re's \d and str.isdigit() accept any script


class ParamError(ValueError):
    """A request value that cannot be used; sent as HTTP 400. The message names the field."""


class OutOfRange:
    """A JSON number Python cannot represent (``1e400``, a 5000-digit integer): its text."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return shown(self)


def shown(value: Any) -> str:
    """A short, safe description of ``value`` for an error message (never raises)."""
    if isinstance(value, OutOfRange):
        t = value.text
        return f"{t} (out of range)" if len(t) <= 24 else f"{t[:12]}… ({len(t)} characters, out of range)"
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) < 10 ** 15:
            return str(value)
        return f"an integer of about {int(math.log10(abs(value))) + 1} digits"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("NaN" if value != value else "Infinity")
    if isinstance(value, str):
        return repr(value) if len(value) <= 24 else repr(value[:12]) + f"… ({len(value)} characters)"
    if isinstance(value, list):  # never its items: they may nest 1000 deep or hold an OutOfRange
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return f"an object of {len(value)} field{'s' if len(value) != 1 else ''}"
    return f"a {type(value).__name__}"


def parse_index(value: Any, name: str, *, digits: int = MAX_DIGITS) -> int:
    """A non-negative integer from ASCII digits (URL, query) or a JSON integer; else ParamError."""
    if isinstance(value, str):
        if _DIGITS.fullmatch(value) and len(value) <= digits:
            return int(value)
    elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10 ** digits:
        return value
    raise ParamError(
        f"{name} must be a whole number >= 0 written with the digits 0-9 (at most {digits} of them), "
        f"got {shown(value)}"
    )


def parse_whole(value: Any, name: str, lo: int, hi: int) -> int:
    """A JSON integer from ``lo`` to ``hi`` (no strings, booleans or ``5.0``); else ParamError."""
    if isinstance(value, bool) or not isinstance(value, int):
        hint = " (a whole number, written without a decimal point)" if isinstance(value, float) else ""
        raise ParamError(f"{name} must be an integer from {lo} to {hi}{hint}, got {shown(value)}")
    if not lo <= value <= hi:
        raise ParamError(f"{name} must be from {lo} to {hi}, got {shown(value)}")
    return value


def check_fields(data: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    """ParamError unless ``data`` has every ``required`` field and no field outside both lists."""
    known = set(required) | set(optional)
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        names = ", ".join(k if len(k) <= 24 else f"{k[:12]}…" for k in unknown[:5])
        names += f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise ParamError(f"unknown field(s): {names} (expected {', '.join(required + optional)})")
    missing = [k for k in required if k not in data]
    if missing:
        raise ParamError(f"missing field(s): {', '.join(missing)}")


def parse_number(value: Any, name: str, lo: float, hi: float, *, unit: str = "") -> float:
    """A finite JSON number from ``lo`` to ``hi`` (not a string or boolean); else ParamError."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float))
    if ok and isinstance(value, int):
        ok = abs(value) < 10 ** 15
    if not ok or not math.isfinite(value) or not lo <= value <= hi:
        what = f"a number of {unit}" if unit else "a number"
        raise ParamError(f"{name} must be {what} from {lo:g} to {hi:g}, got {shown(value)}")
    return float(value)


def _json_float(text: str) -> float | OutOfRange:
    x = float(text)
    return x if math.isfinite(x) else OutOfRange(text)


def _json_int(text: str) -> int | OutOfRange:
    return int(text) if len(text.lstrip("-")) <= MAX_JSON_INT_DIGITS else OutOfRange(text)


def json_number_hooks() -> dict[str, Any]:
    """Keyword arguments for ``json.loads``: out-of-range numbers become :class:`OutOfRange`."""
    return {"parse_float": _json_float, "parse_int": _json_int}


__all__ = [
    "MAX_DIGITS", "OutOfRange", "ParamError", "check_fields", "json_number_hooks", "parse_index", "parse_number",
    "parse_whole", "shown",
]
