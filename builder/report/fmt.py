"""Number formatting in RevMan's conventions, shared by figures, pages and tests."""

from __future__ import annotations

import math


def num(value: float | None, digits: int = 2) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    text = f"{value:.{digits}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text.replace("-", "−")


def p_value(p: float | None) -> str:
    """'P = 0.02', 'P = 0.003', ... with a floor of 'P < 0.00001', as RevMan prints."""
    if p is None or not math.isfinite(p):
        return "P = —"
    if p < 0.00001:
        return "P < 0.00001"
    digits = next(d for d in (2, 3, 4, 5) if p >= 10**-d or d == 5)
    return f"P = {p:.{digits}f}"


def back(value: float | None, scale: str) -> float | None:
    if value is None:
        return None
    return math.exp(value) if scale == "log" else value


def estimate_ci(est: float | None, low: float | None, high: float | None, scale: str, digits: int = 2) -> str:
    """'0.45 [0.21, 0.97]' on the natural scale of the measure."""
    if est is None:
        return "Not estimable"
    return f"{num(back(est, scale), digits)} [{num(back(low, scale), digits)}, {num(back(high, scale), digits)}]"


def weight(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}%"


def percent(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:.{digits}f}%"


def tau2(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "0.00"
    return f"{value:.2f}" if value >= 0.01 else f"{value:.2g}"
