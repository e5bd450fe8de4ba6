"""Services that call Lambda call ours: SNS subscriptions, S3 event notifications, EventBridge
targets and CloudWatch Logs subscription filters reach this server's functions, not moto's mock.

moto reaches "its" Lambda in two ways, both taken over here once moto is loaded:
``moto.awslambda.utils.get_backend`` (SNS, CloudWatch Logs and S3 look the backend up at call
time), replaced by a small backend of our own; and, where moto does not call Lambda at all
(EventBridge's targets), a wrapper around the rule's delivery.

Every such call is asynchronous, as on AWS (SNS, S3 and EventBridge invoke functions with the
Event invocation type: "Invoking Lambda with events from other AWS services"): the event goes to
this server's own Invoke API with ``X-Amz-Invocation-Type: Event``, so it enters the durable
event queue with its retries, age limit and destinations, exactly as a client's would. The call
is made from moto's worker thread over loopback; the event loop answers it at once. It names
the service in ``X-LocalLambda-Trigger`` (``s3``, ``sns``, ``events``, ``logs``), the trigger the
invocation journal records.

The event shapes are AWS's documented samples (links at each builder): moto's own S3 record
lacks ``userIdentity``, ``requestParameters``, ``responseElements``, the owner and the
sequencer, which are added; SNS records are built from the message moto publishes.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import itertools
import json
import logging
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["LambdaBridge"]

log = logging.getLogger(__name__)

Invoker = Callable[[str, bytes], None]


class LambdaBridge:
    """Delivers events from moto's services to this server's functions.

    ``host``/``port`` is this server's own address; ``exists(arn)`` may be asked by moto
    (a subscription filter checks its destination) and is answered through GetFunction."""

    def __init__(self, host: str, port: int, account_id: str) -> None:
        self._host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        self._port = port
        self._account_id = account_id
        self._sequence = itertools.count(1)
        self._lock = threading.Lock()

    # -- calls to our own API ------------------------------------------------------------------

    def _request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> int:
        conn = http.client.HTTPConnection(self._host, self._port, timeout=30)
        try:
            conn.request(method, path, body=body or None, headers=headers or {})
            resp = conn.getresponse()
            resp.read()
            return resp.status
        finally:
            conn.close()

    def invoke_event(self, function_arn: str, payload: bytes, service: str = "event") -> None:
        """Queue an asynchronous invocation from ``service`` (never raises: the service's call must
        go on, as AWS's services do when a delivery fails)."""
        path = f"/2015-03-31/functions/{urllib.parse.quote(function_arn, safe='')}/invocations"
        headers = {"X-Amz-Invocation-Type": "Event", "X-LocalLambda-Trigger": service}
        try:
            status = self._request("POST", path, payload, headers)
        except OSError as exc:
            log.warning("event for %s not delivered: %s", function_arn, exc)
            return
        if status != 202:
            log.warning("event for %s refused by the Lambda API (%s)", function_arn, status)

    def exists(self, function_arn: str) -> bool:
        path = f"/2015-03-31/functions/{urllib.parse.quote(function_arn, safe='')}"
        try:
            return self._request("GET", path) == 200
        except OSError:
            return False

    # -- installing -----------------------------------------------------------------------------

    def install(self) -> None:
        """Take over moto's ways to Lambda (call once, after moto is imported)."""
        import moto.awslambda.utils as lambda_utils
        import moto.s3.notifications as s3_notifications
        from moto.events.models import Rule
        from moto.sns.models import Subscription

        backend = _Backend(self)
        lambda_utils.get_backend = lambda account_id, region: backend  # type: ignore[assignment,return-value]
        s3_notifications._invoke_awslambda = self._s3_notification
        Subscription.publish = _sns_publish(Subscription.publish, self)  # type: ignore[method-assign]
        Rule.send_to_targets = _rule_delivery(Rule.send_to_targets, self)  # type: ignore[method-assign]

    # -- S3 ------------------------------------------------------------------------------------

    def _s3_notification(self, account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        """S3's record completed to AWS's documented shape (notification-content-structure.html)."""
        for record in event_body.get("Records", []):
            record.setdefault("userIdentity", {"principalId": f"AWS:{account_id}"})
            record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
            record.setdefault(
                "responseElements",
                {
                    "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                    "x-amz-id-2": base64.b64encode(uuid.uuid4().bytes).decode(),
                },
            )
            s3 = record.get("s3", {})
            s3.get("bucket", {}).setdefault("ownerIdentity", {"principalId": account_id})
            obj = s3.get("object", {})
            if "key" in obj:
                # S3 form-encodes the key but leaves its slashes ("uploads/a+file.txt"); moto
                # encodes them too.
                obj["key"] = urllib.parse.quote_plus(urllib.parse.unquote_plus(obj["key"]), safe="/")
            with self._lock:
                obj.setdefault("sequencer", f"{int(time.time() * 1000):012X}{next(self._sequence):04X}")
        self.invoke_event(fn_arn, json.dumps(event_body).encode(), "s3")


class _Backend:
    """What moto's services ask of "the Lambda backend", answered by this server's Lambda."""

    def __init__(self, bridge: LambdaBridge) -> None:
        self._bridge = bridge

    def get_function(self, arn: str) -> _Function:
        if not self._bridge.exists(arn):
            raise LookupError(f"Function not found: {arn}")
        return _Function(self._bridge, arn)

    def send_log_event(
        self,
        function_arn: str,
        filter_name: str,
        log_group_name: str,
        log_stream_name: str,
        log_events: list[dict[str, Any]],
    ) -> None:
        """A subscription filter's delivery, as AWS sends it: ``{"awslogs": {"data": base64 of
        gzipped JSON}}`` (SubscriptionFilters.html#LambdaFunctionExample)."""
        data = {
            "messageType": "DATA_MESSAGE",
            "owner": self._bridge._account_id,
            "logGroup": log_group_name,
            "logStream": log_stream_name,
            "subscriptionFilters": [filter_name],
            "logEvents": [
                {
                    "id": str(e.get("eventId") or e.get("id") or uuid.uuid4().int),
                    "timestamp": e["timestamp"],
                    "message": e["message"],
                }
                for e in log_events
            ],
        }
        packed = base64.b64encode(gzip.compress(json.dumps(data).encode())).decode()
        self._bridge.invoke_event(function_arn, json.dumps({"awslogs": {"data": packed}}).encode(), "logs")

    def send_sns_message(
        self, function_name: str, message: str, subject: str | None = None, qualifier: str | None = None
    ) -> None:
        raise NotImplementedError("SNS deliveries are made by the bridge's publish")  # replaced in install()

    def __getattr__(self, name: str) -> Any:
        raise NotImplementedError(f"moto's Lambda backend is not used here ({name}): this server's Lambda API is")


class _Function:
    def __init__(self, bridge: LambdaBridge, arn: str) -> None:
        self._bridge = bridge
        self.function_arn = arn

    def invoke(self, body: str, request_headers: Any, response_headers: Any) -> str:
        self._bridge.invoke_event(self.function_arn, body.encode() if isinstance(body, str) else body)
        return ""


def _sns_publish(original: Callable[..., None], bridge: LambdaBridge) -> Callable[..., None]:
    """Subscription.publish with protocol ``lambda`` delivering AWS's SNS record
    (with-sns.html: Records[].EventSource "aws:sns", EventSubscriptionArn, Sns{...})."""

    def publish(
        self: Any,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> None:
        if self.protocol != "lambda":
            original(
                self, message, message_id, subject, message_attributes, group_id, deduplication_id, message_structure
            )
            return
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(
            message_attributes, message
        ):
            return
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        post = self.get_post_data(message, message_id, subject, message_attributes=message_attributes)
        record = {
            "EventVersion": "1.0",
            "EventSubscriptionArn": self.arn,
            "EventSource": "aws:sns",
            "Sns": {
                "SignatureVersion": post.get("SignatureVersion", "1"),
                "Timestamp": post["Timestamp"],
                "Signature": post.get("Signature", ""),
                "SigningCertUrl": post.get("SigningCertURL", ""),
                "MessageId": message_id,
                "Message": message,
                "MessageAttributes": {
                    k: {"Type": v["Type"], "Value": v["Value"]} for k, v in (message_attributes or {}).items()
                },
                "Type": "Notification",
                "UnsubscribeUrl": post.get("UnsubscribeURL", ""),
                "TopicArn": self.topic.arn,
                "Subject": subject,
            },
        }
        bridge.invoke_event(self.endpoint, json.dumps({"Records": [record]}).encode(), "sns")

    return publish


def _rule_delivery(original: Callable[..., None], bridge: LambdaBridge) -> Callable[..., None]:
    """Rule.send_to_targets that also delivers to Lambda targets (moto has none), with the
    target's Input, InputPath or InputTransformer applied (eb-transform-target-input.html)."""
    lock = threading.Lock()

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        lambdas = [t for t in self.targets if _service(t["Arn"]) == "lambda"]
        for target in lambdas:
            bridge.invoke_event(
                target["Arn"], json.dumps(_target_input(target, original_event, transform_input)).encode(), "events"
            )
        others = [t for t in self.targets if _service(t["Arn"]) != "lambda"]
        if others:
            with lock:
                kept = self.targets
                self.targets = others
                try:
                    original(self, original_event, transform_input)
                finally:
                    self.targets = kept

    return send_to_targets


def _service(arn: str) -> str:
    parts = arn.split(":", 3)
    return parts[2] if len(parts) > 2 else ""


def _target_input(target: dict[str, Any], event: Any, transform: bool) -> Any:
    if not transform:
        return event
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        return _json_path(event, target["InputPath"])
    if "InputTransformer" in target:
        from moto.events.utils import EventTemplateParser

        transformer = target["InputTransformer"]
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,
        )
    return event


def _json_path(doc: Any, path: str) -> Any:
    """The simple JSONPath EventBridge's InputPath takes: ``$`` or ``$.a.b``."""
    found = doc
    for part in path.removeprefix("$").strip(".").split("."):
        if not part:
            continue
        found = found.get(part) if isinstance(found, dict) else None
    return found
