"""Scheduled EventBridge rules fire: ``rate(...)`` and ``cron(...)`` expressions send AWS's
"Scheduled Event" to the rule's targets (moto stores such rules but never runs them).

AWS's expressions (eb-scheduled-rule-pattern.html): ``rate(1 minute)``, ``rate(5 minutes)``,
``rate(2 hours)``, ``rate(1 day)``; ``cron(Minutes Hours Day-of-month Month Day-of-week Year)``
in UTC, with ``*``, ``?``, lists, ranges and ``/`` steps (``L``, ``W`` and ``#`` are not
evaluated: such a rule never fires here, and the server log says so once). A rate rule first
fires one period after it is first seen; a cron rule at each matching minute. The event:

    {"version": "0", "id": ..., "detail-type": "Scheduled Event", "source": "aws.events",
     "account": ..., "time": "2026-12-02T18:40:00Z", "region": ..., "resources": [rule ARN],
     "detail": {}}

It goes through the rule's own delivery, so Lambda targets get it through the bridge (an
asynchronous invoke) and moto's targets (SQS, Logs, other buses) through moto.

One thread checks every rule once a second; it runs only once moto is loaded and stops with the
server.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import uuid
from typing import Any

__all__ = ["Scheduler", "cron_matches", "next_rate_fire"]

log = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_S = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_MONTHS = {
    m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}  # AWS: 1 = Sunday


def next_rate_fire(expression: str, since: float) -> float | None:
    m = _RATE.match(expression.strip())
    if m is None:
        return None
    return since + int(m.group(1)) * _UNIT_S[m.group(2)]


def _field(spec: str, value: int, low: int, high: int, names: dict[str, int] | None = None) -> bool | None:
    """Whether ``value`` matches one cron field; ``None`` for what is not evaluated here."""
    if spec in ("*", "?"):
        return True
    for item in spec.split(","):
        part, step = item, 1
        if "/" in item:
            part, step_text = item.split("/", 1)
            step = int(step_text)
        # L, W and # (last, weekday, nth) are not evaluated; three-letter names are not them
        if any(c in re.sub(r"[A-Z]{3}", "", part.upper()) for c in "LW#"):
            return None
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = high if step > 1 or "/" in spec else start
        if start <= value <= end and (value - start) % step == 0:
            return True
    return False


def _value(text: str, names: dict[str, int] | None) -> int:
    return names[text.upper()] if names and text.upper() in names else int(text)


def cron_matches(expression: str, when: dt.datetime) -> bool | None:
    """Whether a ``cron(...)`` expression fires at the minute ``when`` (UTC); ``None`` when it
    is not a cron expression or uses what is not evaluated here."""
    m = _CRON.match(expression.strip())
    if m is None:
        return None
    fields = m.group(1).split()
    if len(fields) != 6:
        return None
    minute, hour, dom, month, dow, year = fields
    weekday = (when.isoweekday() % 7) + 1  # Sunday → 1
    checks = [
        _field(minute, when.minute, 0, 59),
        _field(hour, when.hour, 0, 23),
        _field(dom, when.day, 1, 31),
        _field(month, when.month, 1, 12, _MONTHS),
        _field(dow, weekday, 1, 7, _DAYS),
        _field(year, when.year, 1970, 2199),
    ]
    if None in checks:
        return None
    return all(checks)


class Scheduler:
    """Fires scheduled rules of moto's EventBridge; ``start`` is an on-load hook of the
    neighbours, ``stop`` ends the thread (at server shutdown)."""

    def __init__(self, tick_s: float = 1.0) -> None:
        self._tick_s = tick_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next: dict[tuple[str, str], float] = {}  # (rule ARN, expression) → next rate fire
        self._last_minute: dt.datetime | None = None
        self._warned: set[str] = set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="eventbridge-schedules", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._tick_s):
            try:
                self.tick(dt.datetime.now(dt.UTC))
            except Exception:  # a bad rule must not stop every other schedule
                log.exception("scheduled rules: a check failed")

    def tick(self, now: dt.datetime) -> None:
        from moto.events.models import events_backends

        minute = now.replace(second=0, microsecond=0)
        new_minute = minute != self._last_minute
        self._last_minute = minute
        seen: set[tuple[str, str]] = set()
        for account_id, regions in list(events_backends.items()):
            for region, backend in list(regions.items()):
                for bus in list(backend.event_buses.values()):
                    for rule in list(bus.rules.values()):
                        expression = rule.scheduled_expression
                        if not expression or rule.state != "ENABLED":
                            continue
                        key = (rule.arn, expression)
                        seen.add(key)
                        if self._due(key, expression, now, minute, new_minute):
                            when = minute if expression.startswith("cron") else now
                            event: Any = _scheduled_event(account_id, region, rule.arn, when)
                            rule.send_to_targets(event)
        for key in list(self._next):
            if key not in seen:
                del self._next[key]

    def _due(
        self, key: tuple[str, str], expression: str, now: dt.datetime, minute: dt.datetime, new_minute: bool
    ) -> bool:
        stamp = now.timestamp()
        if expression.startswith("rate"):
            if key not in self._next:
                first = next_rate_fire(expression, stamp)
                if first is None:
                    self._warn(expression)
                    return False
                self._next[key] = first
                return False
            if stamp >= self._next[key]:
                self._next[key] = next_rate_fire(expression, self._next[key]) or stamp
                return True
            return False
        if not new_minute:
            return False
        fires = cron_matches(expression, minute)
        if fires is None:
            self._warn(expression)
            return False
        return fires

    def _warn(self, expression: str) -> None:
        if expression not in self._warned:
            self._warned.add(expression)
            log.warning("scheduled rule expression %r is not evaluated here: the rule does not fire", expression)


def _scheduled_event(account_id: str, region: str, rule_arn: str, when: dt.datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }
