"""An extension subscribed through the Telemetry API receives the function's logs and the
platform events, POSTed to its own HTTP listener at sandbox.localdomain."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.conftest import free_port
from tests.invoke.conftest import Functions
from tests.invoke.test_layers_runtime import publish

TELEMETRY_EXTENSION = """\
#!/usr/bin/env python3
import http.server, json, os, threading, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]
port = int(os.environ["LOG_PORT"])
out = os.environ["EXT_OUT"]

class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(out, "a") as fh:
            for event in json.loads(body):
                fh.write(json.dumps(event) + "\\n")
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Sink)
threading.Thread(target=server.serve_forever, daemon=True).start()
req = urllib.request.Request(api + "/2020-01-01/extension/register", data=json.dumps({"events": ["INVOKE"]}).encode(),
                             headers={"Lambda-Extension-Name": "telemetry-ext"}, method="POST")
with urllib.request.urlopen(req) as r:
    ext_id = r.headers["Lambda-Extension-Identifier"]
sub = {"schemaVersion": "2022-12-13", "types": ["platform", "function"],
       "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
       "destination": {"protocol": "HTTP", "URI": f"http://sandbox.localdomain:{port}"}}
req = urllib.request.Request(api + "/2022-07-01/telemetry", data=json.dumps(sub).encode(),
                             headers={"Lambda-Extension-Identifier": ext_id}, method="PUT")
urllib.request.urlopen(req).read()
while True:
    nxt = urllib.request.Request(api + "/2020-01-01/extension/event/next", headers={"Lambda-Extension-Identifier": ext_id})
    urllib.request.urlopen(nxt).read()
"""

# The subscriber's file lives in the environment's /tmp (private under the sandbox executor): the
# second invocation waits for the first one's report and returns what the subscriber received.
FUNCTION = """\
import json, os, time

def handler(event, context):
    print('hello telemetry')
    if not event.get("collect"):
        return {"ok": True}
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            with open(os.environ["EXT_OUT"]) as fh:
                events = [json.loads(line) for line in fh if line.strip()]
        except FileNotFoundError:
            events = []
        if any(e["type"] == "platform.report" for e in events):
            return {"events": events}
        time.sleep(0.02)
    return {"events": events}
"""


def test_telemetry_subscriber_receives_function_and_platform_events(functions: Functions) -> None:
    arn = publish(
        functions,
        "telemetry-ext",
        {"extensions/telemetry-ext": TELEMETRY_EXTENSION},
        modes={"extensions/telemetry-ext": 0o755},
    )
    out_file = Path("/tmp") / f"locallambda-telemetry-{uuid.uuid4().hex}.jsonl"
    try:
        name = functions.python(
            FUNCTION, Layers=[arn], timeout=10, env={"EXT_OUT": str(out_file), "LOG_PORT": str(free_port())}
        )
        out = functions.invoke(name, {})
        rid = out["ResponseMetadata"]["RequestId"]
        events = functions.invoke_json(name, {"collect": True})["events"]
    finally:
        out_file.unlink(missing_ok=True)
    kinds = [e["type"] for e in events]
    assert {"type": "function", "record": "hello telemetry"}.items() <= next(
        e for e in events if e["type"] == "function"
    ).items()
    start = next(e for e in events if e["type"] == "platform.start")
    assert start["record"] == {"requestId": rid, "version": "$LATEST"}
    report = next(e for e in events if e["type"] == "platform.report")
    assert report["record"]["requestId"] == rid and report["record"]["status"] == "success"
    assert set(report["record"]["metrics"]) >= {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB"}
    assert kinds.index("platform.start") < kinds.index("platform.report")
