"""EventBridge schedule expressions, evaluated as AWS documents them (eb-scheduled-rule-pattern)."""

from __future__ import annotations

import datetime as dt

import pytest

from locallambda.neighbours.schedules import cron_matches, next_rate_fire

T = dt.datetime(2026, 12, 2, 18, 40, tzinfo=dt.UTC)  # a Wednesday


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(2 hours)", 7200), ("rate(1 day)", 86400)],
)
def test_rate(expression: str, seconds: int) -> None:
    assert next_rate_fire(expression, 1000.0) == 1000.0 + seconds


def test_not_a_rate() -> None:
    assert next_rate_fire("rate(1 fortnight)", 0) is None


@pytest.mark.parametrize(
    ("expression", "fires"),
    [
        ("cron(* * * * ? *)", True),
        ("cron(40 18 * * ? *)", True),
        ("cron(41 18 * * ? *)", False),
        ("cron(0/5 * * * ? *)", True),
        ("cron(0/7 * * * ? *)", False),
        ("cron(30-45 18 ? * WED *)", True),
        ("cron(30-45 18 ? * MON-FRI *)", True),
        ("cron(30-45 18 ? * SAT,SUN *)", False),
        ("cron(40 18 2 DEC ? 2026)", True),
        ("cron(40 18 2 JAN ? *)", False),
        ("cron(40 18 ? * 4 *)", True),  # 4 = Wednesday (1 = Sunday)
    ],
)
def test_cron(expression: str, fires: bool) -> None:
    assert cron_matches(expression, T) is fires


def test_cron_parts_not_evaluated() -> None:
    assert cron_matches("cron(0 10 L * ? *)", T) is None
    assert cron_matches("cron(0 10 ? * 6#3 *)", T) is None
    assert cron_matches("cron(0 10 * *)", T) is None
