"""moto's SQS, made fast enough to feed event source mappings, and given FIFO sequence numbers.

moto's SQS model is correct but slow where a backlog is read: every message a ReceiveMessage
returns checks its retention period through ``get_queue_attributes``, which computes all of the
queue's attributes three times, each a scan of every message that asks the clock twice per
message (a receive from a queue of n messages costs O(n²) clock reads; 1,000 queued messages
were read at 10 a second). ``install`` replaces those parts with versions that behave the same
and cost O(n) at most:

- the visible/delayed checks and the three approximate counts read the clock once per call;
- the retention check reads the queue's ``MessageRetentionPeriod`` directly;
- a receive copies the messages it returns without moto's instance tracking (each deep copy of
  a ``Message`` was kept in ``Message.instances_tracked`` for ever);
- a delete finds its message in one scan; a batch delete finds all of its messages in one scan
  and rebuilds the queue's list once (not once per message);
- marking a message received reads the clock with ``time.time()`` (moto builds two datetimes);
- a receipt handle is 185 random characters from the operating system's generator, not 185
  calls of Python's ``random.choice`` (a quarter of a receive's cost);
- the JSON protocol's answers to ReceiveMessage (when no message carries message attributes) and
  DeleteMessageBatch are written with ``json.dumps`` of moto's own result, which is what moto's
  shape-driven serializer makes of these plain strings and lists (a third of their cost);
  anything else goes through moto's serializer as before.

What stays as moto has it: visibility timeouts, ``ApproximateReceiveCount``, the first receive
timestamp, redrive to the dead-letter queue once a message was received ``maxReceiveCount``
times, FIFO groups (a group with a message in flight delivers nothing more), deduplication,
message attribute filtering, long polls that wait for messages.

Changed on purpose:

- each pass over the queue (deciding what one receive returns) holds the queue's lock, as do
  deletes: moto marked messages received without one, so two concurrent receives could both
  return a message (a FIFO queue's included);
- which FIFO groups are busy is decided at each pass of a long poll, and deletes wake waiting
  receives: moto decided it once per receive, so a long poll begun while a group was in flight
  did not see it free up until it ended (and spun on the clock meanwhile);
- every message of a FIFO queue gets a ``SequenceNumber``, increasing within the queue (so within
  each message group): "The large, non-consecutive number that Amazon SQS assigns to each
  message. The length of SequenceNumber is 128 bits. SequenceNumber continues to increase for a
  particular MessageGroupId." (SQS API Reference, SendMessage; the FIFO sample event of "Using
  Lambda with Amazon SQS" shows it among the record's attributes). moto gave one, random, only
  to messages sent with an explicit ``MessageDeduplicationId``.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from copy import deepcopy
from typing import Any

__all__ = ["SequenceNumbers", "install"]

_IMMUTABLE = (str, int, float, bool, bytes, type(None))
# 20 digits, as AWS's sequence numbers are ("18849496460467696128" in the developer guide's
# FIFO sample event): nanoseconds since the epoch plus 10**19, so they also increase across a
# restart of the server.
_SEQUENCE_BASE = 10**19
_MAX_IDLE_WAIT = 1.0  # seconds: how late a long poll may notice a visibility timeout expire


class SequenceNumbers:
    """Increasing, non-consecutive numbers (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> str:
        with self._lock:
            self._last = max(self._last + 1, _SEQUENCE_BASE + time.time_ns())
            return str(self._last)


def install() -> None:
    """Patch moto's SQS model (once per process; call after moto is importable)."""
    from moto.sqs import models

    queue_cls: Any = models.Queue
    if getattr(queue_cls, "_locallambda_speed", False):
        return
    queue_cls._locallambda_speed = True
    backend_cls: Any = models.SQSBackend
    sequence = SequenceNumbers()

    queue_cls.messages = property(_visible_messages)
    queue_cls.approximate_number_of_messages = property(lambda self: len(_visible_messages(self)))
    queue_cls.approximate_number_of_messages_delayed = property(_delayed_count)
    queue_cls.approximate_number_of_messages_not_visible = property(_not_visible_count)
    queue_cls.delete_message = _delete_message
    backend_cls.delete_message_batch = _delete_message_batch
    message_cls: Any = models.Message
    message_cls.mark_received = _mark_received
    queue_cls.add_message = _numbered(queue_cls.add_message, sequence)
    backend_cls.is_message_valid_based_on_retention_period = _retained
    backend_cls.receive_message = _receive_message
    setattr(models, "generate_receipt_handle", _receipt_handle)  # noqa: B010 (not exported by moto)
    _serialize_plainly()


def _serialize_plainly() -> None:
    from moto.core.responses import ActionResult
    from moto.sqs.responses import SQSResponse

    class PlainJson(ActionResult):
        def execute_result(self, context: Any) -> Any:
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(self.result)

    def plainly(original: Any, plain: Any) -> Any:
        def action(self: Any) -> Any:
            answer = original(self)
            speaks_json = "x-amz-json" in (self.headers.get("Content-Type") or "")
            if speaks_json and type(answer) is ActionResult and plain(answer.result):
                return PlainJson(answer.result)
            return answer

        return action

    responses: Any = SQSResponse
    responses.receive_message = plainly(
        responses.receive_message,
        lambda result: all("MessageAttributes" not in m for m in result.get("Messages", ())),
    )
    responses.delete_message_batch = plainly(responses.delete_message_batch, lambda result: True)


def _receipt_handle() -> str:
    """A new receipt handle: 185 characters as moto's, URL- and XML-safe."""
    return secrets.token_urlsafe(139)[:185]


def _now_ms() -> float:
    return time.time() * 1000.0


# -- counts and views -----------------------------------------------------------------------


def _visible_messages(queue: Any) -> list[Any]:
    now = _now_ms()
    return [m for m in queue._messages if now > m.visible_at and not now < m.delayed_until]


def _delayed_count(queue: Any) -> int:
    now = _now_ms()
    return sum(1 for m in queue._messages if now < m.delayed_until)


def _not_visible_count(queue: Any) -> int:
    now = _now_ms()
    return sum(1 for m in queue._messages if not now > m.visible_at)


def _retained(backend: Any, queue_name: str, message: Any) -> bool:
    queue = backend.get_queue(queue_name)
    return bool(queue.message_retention_period + message.sent_timestamp / 1000 > time.time())


# -- sending --------------------------------------------------------------------------------


def _numbered(original: Any, sequence: SequenceNumbers) -> Any:
    def add_message(queue: Any, message: Any) -> None:
        if queue.fifo_queue:
            message.sequence_number = sequence.next()
        original(queue, message)

    return add_message


# -- deleting -------------------------------------------------------------------------------


def _delete_message(queue: Any, receipt_handle: str) -> None:
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    with queue._messages_lock:
        if receipt_handle in queue.deleted_messages:
            return  # already deleted: moto (and SQS) accept that again
        messages = queue._messages
        index = next(
            (
                i
                for i, candidate in enumerate(messages)
                if candidate.receipt_handle == receipt_handle or receipt_handle in candidate._old_receipt_handles
            ),
            None,
        )
        if index is None:
            raise ReceiptHandleIsInvalid()
        message = messages[index]
        queue.pending_messages.discard(message)
        queue.deleted_messages.update(message.all_receipt_handles)
        # A new list, as moto makes: a reader holding the old one is not disturbed.
        queue._messages = messages[:index] + messages[index + 1 :]
        queue._messages_lock.notify_all()  # a FIFO group may be free now


def _delete_message_batch(
    backend: Any, queue_name: str, receipts: list[dict[str, Any]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """moto's ``SQSBackend.delete_message_batch``: the same successes and errors, in one scan of
    the queue under its lock (a message may be named by any receipt handle it ever had)."""
    queue = backend.get_queue(queue_name)
    with queue._messages_lock:
        messages = queue._messages
        wanted = {r["ReceiptHandle"] for r in receipts} - queue.deleted_messages
        found: dict[str, int] = {}
        if wanted:
            for index, message in enumerate(messages):
                if message.receipt_handle in wanted:
                    found[message.receipt_handle] = index
                    if len(found) == len(wanted):
                        break
            for handle in wanted - found.keys():  # an earlier receipt handle of a message
                index = next((i for i, m in enumerate(messages) if handle in m._old_receipt_handles), -1)
                if index >= 0:
                    found[handle] = index
        success: list[str] = []
        errors: list[dict[str, Any]] = []
        for receipt in receipts:
            handle = receipt["ReceiptHandle"]
            if handle in found or handle in queue.deleted_messages:
                success.append(receipt["Id"])
            else:
                errors.append(
                    {
                        "Id": receipt["Id"],
                        "SenderFault": True,
                        "Code": "ReceiptHandleIsInvalid",
                        "Message": f'The input receipt handle "{handle}" is not a valid receipt handle.',
                    }
                )
        if found:
            doomed = sorted(set(found.values()))
            for index in doomed:
                message = messages[index]
                queue.pending_messages.discard(message)
                queue.deleted_messages.update(message.all_receipt_handles)
            # A new list, as moto makes: a reader holding the old one is not disturbed.
            kept: list[Any] = []
            start = 0
            for index in doomed:
                kept += messages[start:index]
                start = index + 1
            kept += messages[start:]
            queue._messages = kept
            queue._messages_lock.notify_all()  # a FIFO group may be free now
    return success, errors


def _mark_received(message: Any, visibility_timeout: int | None = None) -> None:
    """moto's ``Message.mark_received``: the first receive's time, the count, the visibility
    timeout, a new receipt handle."""
    from moto.sqs import models

    new_handle: Any = getattr(models, "generate_receipt_handle")  # noqa: B009 (not exported by moto)
    timeout = int(visibility_timeout) if visibility_timeout else 0
    now = _now_ms()
    if not message.approximate_first_receive_timestamp:
        message.approximate_first_receive_timestamp = int(now)
    message.approximate_receive_count += 1
    if timeout:
        message.visible_at = now + timeout * 1000
    message._old_receipt_handles.append(message.receipt_handle)
    message.receipt_handle = new_handle()


# -- receiving ------------------------------------------------------------------------------


def _receive_message(
    backend: Any,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
) -> list[Any]:
    """moto's ``SQSBackend.receive_message``: up to ``count`` messages, waiting up to
    ``wait_seconds_timeout`` for the first ones; each pass over the queue under its lock."""
    names = message_attribute_names or []
    queue = backend.get_queue(queue_name)
    deadline = time.monotonic() + wait_seconds_timeout
    lock = queue._messages_lock
    while True:
        with lock:
            result, expired, blocked = _pass(backend, queue, queue_name, count, visibility_timeout, names)
            left = deadline - time.monotonic()
            if not result and not expired and left > 0:
                if blocked:  # visible messages whose groups are busy: until a send or a delete
                    lock.wait(min(_MAX_IDLE_WAIT, left))
                else:
                    lock.wait_for(lambda: _visible_messages(queue), timeout=min(_MAX_IDLE_WAIT, left))
        for message in expired:  # outside this queue's lock: the dead-letter queue takes its own
            queue.dead_letter_queue.add_message(message)
        if result or time.monotonic() >= deadline:
            return result


def _pass(
    backend: Any, queue: Any, queue_name: str, count: int, visibility_timeout: int, names: list[str]
) -> tuple[list[Any], list[Any], bool]:
    """One scan, as moto's loop body: (copies to return, messages to redrive, whether visible
    messages were held back because their group is busy)."""
    from moto.sqs.models import _filter_message_attributes

    now = _now_ms()
    pending = queue.pending_messages
    busy = {m.group_id for m in pending if m.group_id is not None}
    redrive = queue.redrive_policy if queue.dead_letter_queue is not None else None
    result: list[Any] = []
    expired: list[Any] = []
    blocked = False
    for message in list(queue._messages):
        if not (now > message.visible_at and not now < message.delayed_until):
            continue
        if message in pending:
            # In flight but visible again: the consumer's visibility timeout ran out.
            pending.remove(message)
            busy = {m.group_id for m in pending if m.group_id is not None}
        if message.group_id and queue.fifo_queue and message.group_id in busy:
            blocked = True
            continue
        if redrive and message.approximate_receive_count >= redrive["maxReceiveCount"]:
            expired.append(message)
            continue
        pending.add(message)
        message.mark_received(visibility_timeout=visibility_timeout)
        snapshot = _copy(message)
        _filter_message_attributes(snapshot, names)
        if not backend.is_message_valid_based_on_retention_period(queue_name, message):
            break  # as moto does
        result.append(snapshot)
        if len(result) >= count:
            break
    if expired:
        queue._messages = [m for m in queue._messages if m not in expired]
    return result, expired, blocked


def _copy(message: Any) -> Any:
    """A deep copy of a message, not tracked by moto (``BaseModel.__new__`` keeps every
    instance made through it)."""
    copy = object.__new__(type(message))
    copy.__dict__.update({k: v if isinstance(v, _IMMUTABLE) else deepcopy(v) for k, v in message.__dict__.items()})
    return copy
