"""Money is an integer count of micro-USD. These helpers convert only at the edges, without floats."""

import re

MICROS_PER_USD = 1_000_000
_USD = re.compile(r"^\s*\$?(\d{1,9})(?:\.(\d{1,6}))?\s*$")


def parse_usd(text: str | int) -> int:
    """'12.5' -> 12_500_000. Rejects negatives, more than six decimals, and anything not a number."""
    match = _USD.match(str(text))
    if not match:
        raise ValueError(f"not a USD amount with at most 6 decimals: {text!r}")
    whole, fraction = match.group(1), (match.group(2) or "")
    return int(whole) * MICROS_PER_USD + int(fraction.ljust(6, "0"))


def format_usd(micros: int, *, symbol: bool = False) -> str:
    """12_500_000 -> '12.50'; 134_000 -> '0.134'. At least two decimals, no trailing zeros past that."""
    sign = "-" if micros < 0 else ""
    whole, fraction = divmod(abs(micros), MICROS_PER_USD)
    decimals = f"{fraction:06d}".rstrip("0").ljust(2, "0")
    return f"{sign}{'$' if symbol else ''}{whole}.{decimals}"


def money(micros: int) -> dict:
    """The API's representation of an amount: exact micros plus a display string."""
    return {"micros": micros, "usd": format_usd(micros)}


def format_bps(basis_points: int) -> str:
    """1000 -> '10'; 1050 -> '10.5'; 125 -> '1.25': a percentage from basis points, no floats."""
    whole, fraction = divmod(basis_points, 100)
    return f"{whole}.{fraction:02d}".rstrip("0").rstrip(".") if fraction else str(whole)
