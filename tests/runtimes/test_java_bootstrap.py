"""Tests for locallambda's Java runtime client (src/locallambda/runtimes/java + java_bootstrap.py).

The bootstrap jar is built once per session with ``ensure_java_bootstrap``; the test handlers
below are compiled with ``javac`` against it, all at once, into one task root. Each test starts
the runtime with ``java_command(...)`` against a FakeRuntimeAPI and checks what it posts back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from .fake_runtime_api import FakeRuntimeAPI

REPO = Path(__file__).resolve().parents[2]
try:
    from locallambda.runtimes import java_bootstrap as jb
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, str(REPO / "src"))
    from locallambda.runtimes import java_bootstrap as jb

JAVA = shutil.which("java")
JAVAC = shutil.which("javac")
pytestmark = pytest.mark.skipif(not (JAVA and JAVAC), reason="needs a JDK 17+ (java and javac)")

WAIT = 20.0  # seconds; the first start of a JVM on a busy machine can be slow

HANDLERS: dict[str, str] = {
    "example/EchoMap.java": """
package example;
import com.amazonaws.services.lambda.runtime.*;
import java.util.*;
public class EchoMap implements RequestHandler<Map<String, Object>, String> {
    public String handleRequest(Map<String, Object> in, Context ctx) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, Object> e : in.entrySet()) {
            Object v = e.getValue();
            sb.append(e.getKey()).append('=').append(v).append(':')
              .append(v == null ? "null" : v.getClass().getSimpleName()).append(';');
        }
        return sb.toString();
    }
}
""",
    "example/Person.java": """
package example;
import java.util.*;
public class Person {
    private String name;
    private int age;
    private Address address;
    private List<Address> previous;
    public Map<String, Integer> scores;
    public String getName() { return name; }
    public void setName(String name) { this.name = name; }
    public int getAge() { return age; }
    public void setAge(int age) { this.age = age; }
    public Address getAddress() { return address; }
    public void setAddress(Address address) { this.address = address; }
    public List<Address> getPrevious() { return previous; }
    public void setPrevious(List<Address> previous) { this.previous = previous; }
}
""",
    "example/Address.java": """
package example;
public class Address {
    private String city;
    private String zip;
    public String getCity() { return city; }
    public void setCity(String city) { this.city = city; }
    public String getZip() { return zip; }
    public void setZip(String zip) { this.zip = zip; }
}
""",
    "example/Greeting.java": """
package example;
import java.util.*;
public class Greeting {
    private String message;
    private boolean adult;
    private Address address;
    private String nothing;
    private List<String> cities = new ArrayList<>();
    public String getMessage() { return message; }
    public void setMessage(String m) { message = m; }
    public boolean isAdult() { return adult; }
    public void setAdult(boolean a) { adult = a; }
    public Address getAddress() { return address; }
    public void setAddress(Address a) { address = a; }
    public String getNothing() { return nothing; }
    public List<String> getCities() { return cities; }
    public String getURL() { return "http://example.com"; }
    public long getTotalScore() { return 0; }
}
""",
    "example/PojoHandler.java": """
package example;
import com.amazonaws.services.lambda.runtime.*;
public class PojoHandler implements RequestHandler<Person, Greeting> {
    public Greeting handleRequest(Person p, Context ctx) {
        Greeting g = new Greeting();
        g.setMessage("Hello " + p.getName());
        g.setAdult(p.getAge() >= 18);
        g.setAddress(p.getAddress());
        if (p.getPrevious() != null) {
            for (Address a : p.getPrevious()) g.getCities().add(a.getCity());
        }
        if (p.scores != null) g.getCities().add("score:" + p.scores.get("math"));
        return g;
    }
}
""",
    "example/StreamEcho.java": """
package example;
import com.amazonaws.services.lambda.runtime.*;
import java.io.*;
public class StreamEcho implements RequestStreamHandler {
    public void handleRequest(InputStream in, OutputStream out, Context ctx) throws IOException {
        out.write(in.readAllBytes());
    }
}
""",
    "example/Methods.java": """
package example;
import com.amazonaws.services.lambda.runtime.Context;
import java.io.*;
import java.util.*;
public class Methods {
    public String greet(Map<String, Object> in, Context ctx) {
        return "hi " + in.get("name") + " from " + ctx.getFunctionName();
    }
    public static Integer twice(Integer x) { return x * 2; }
    public void nothing(Map<String, Object> in) { }
    public void upper(InputStream in, OutputStream out) throws IOException {
        out.write(new String(in.readAllBytes(), "UTF-8").toUpperCase().getBytes("UTF-8"));
    }
    public List<String> noArgs() { return Arrays.asList("a", "b"); }
}
""",
    "example/ContextHandler.java": """
package example;
import com.amazonaws.services.lambda.runtime.*;
import java.util.*;
public class ContextHandler implements RequestHandler<Object, Map<String, Object>> {
    public Map<String, Object> handleRequest(Object in, Context ctx) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("awsRequestId", ctx.getAwsRequestId());
        m.put("logGroupName", ctx.getLogGroupName());
        m.put("logStreamName", ctx.getLogStreamName());
        m.put("functionName", ctx.getFunctionName());
        m.put("functionVersion", ctx.getFunctionVersion());
        m.put("invokedFunctionArn", ctx.getInvokedFunctionArn());
        m.put("memoryLimitInMB", ctx.getMemoryLimitInMB());
        m.put("remainingTimeInMillis", ctx.getRemainingTimeInMillis());
        m.put("hasLogger", ctx.getLogger() != null);
        CognitoIdentity id = ctx.getIdentity();
        if (id != null) {
            m.put("identityId", id.getIdentityId());
            m.put("identityPoolId", id.getIdentityPoolId());
        }
        ClientContext cc = ctx.getClientContext();
        if (cc != null) {
            m.put("installationId", cc.getClient() == null ? null : cc.getClient().getInstallationId());
            m.put("appTitle", cc.getClient() == null ? null : cc.getClient().getAppTitle());
            m.put("custom", cc.getCustom());
            m.put("env", cc.getEnvironment());
        }
        m.put("traceProperty", System.getProperty("com.amazonaws.xray.traceHeader"));
        m.put("input", in);
        return m;
    }
}
""",
    "example/Failing.java": """
package example;
import com.amazonaws.services.lambda.runtime.*;
import java.util.*;
public class Failing implements RequestHandler<Map<String, Object>, String> {
    public String handleRequest(Map<String, Object> in, Context ctx) {
        throw new IllegalStateException("boom", new IllegalArgumentException("root cause"));
    }
}
""",
    "example/CtorFails.java": """
package example;
import com.amazonaws.services.lambda.runtime.*;
public class CtorFails implements RequestHandler<Object, String> {
    public CtorFails() { throw new IllegalStateException("cannot start"); }
    public String handleRequest(Object in, Context ctx) { return "never"; }
}
""",
    "example/StaticFails.java": """
package example;
import com.amazonaws.services.lambda.runtime.*;
public class StaticFails implements RequestHandler<Object, String> {
    static { if (Boolean.TRUE) throw new IllegalStateException("static boom"); }
    public String handleRequest(Object in, Context ctx) { return "never"; }
}
""",
    "example/NotAHandler.java": """
package example;
public class NotAHandler { public String run(String a, String b) { return a + b; } }
""",
    "example/Counter.java": """
package example;
import com.amazonaws.services.lambda.runtime.*;
import java.util.*;
public class Counter implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    private int calls;
    public Map<String, Object> handleRequest(Map<String, Object> in, Context ctx) {
        calls++;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pid", ProcessHandle.current().pid());
        m.put("calls", calls);
        m.put("i", in.get("i"));
        return m;
    }
}
""",
    "example/Logging.java": """
package example;
import com.amazonaws.services.lambda.runtime.*;
public class Logging implements RequestHandler<String, String> {
    public String handleRequest(String in, Context ctx) {
        ctx.getLogger().log("logger-line " + in + "\\n");
        LambdaRuntime.getLogger().log("runtime-logger-line\\n");
        System.out.println("stdout-line \\u00e9t\\u00e9");
        System.out.print("no-newline");
        return in.toUpperCase();
    }
}
""",
    # stand-ins shaped like aws-lambda-java-events / joda-time classes (no Maven here)
    "org/joda/time/DateTime.java": """
package org.joda.time;
public class DateTime {
    private final java.time.OffsetDateTime t;
    private DateTime(java.time.OffsetDateTime t) { this.t = t; }
    public static DateTime parse(String s) { return new DateTime(java.time.OffsetDateTime.parse(s)); }
    public String toString() { return t.toString(); }
}
""",
    "com/amazonaws/services/lambda/runtime/events/SQSEvent.java": """
package com.amazonaws.services.lambda.runtime.events;
import java.util.*;
public class SQSEvent {
    public static class SQSMessage {
        private String body, eventSourceArn;
        private java.nio.ByteBuffer binary;
        private Date sent;
        public String getBody() { return body; }
        public void setBody(String b) { body = b; }
        public String getEventSourceArn() { return eventSourceArn; }
        public void setEventSourceArn(String a) { eventSourceArn = a; }
        public java.nio.ByteBuffer getBinary() { return binary; }
        public void setBinary(java.nio.ByteBuffer b) { binary = b; }
        public Date getSent() { return sent; }
        public void setSent(Date d) { sent = d; }
    }
    private List<SQSMessage> records;
    public List<SQSMessage> getRecords() { return records; }
    public void setRecords(List<SQSMessage> r) { records = r; }
}
""",
    "com/amazonaws/services/lambda/runtime/events/ScheduledEvent.java": """
package com.amazonaws.services.lambda.runtime.events;
import org.joda.time.DateTime;
public class ScheduledEvent {
    private String detailType;
    private DateTime time;
    public String getDetailType() { return detailType; }
    public void setDetailType(String d) { detailType = d; }
    public DateTime getTime() { return time; }
    public void setTime(DateTime t) { time = t; }
}
""",
    "example/EventsHandler.java": """
package example;
import com.amazonaws.services.lambda.runtime.*;
import com.amazonaws.services.lambda.runtime.events.*;
import java.util.*;
public class EventsHandler {
    public String sqs(SQSEvent e) {
        SQSEvent.SQSMessage m = e.getRecords().get(0);
        byte[] b = new byte[m.getBinary().remaining()];
        m.getBinary().get(b);
        return m.getBody() + "|" + m.getEventSourceArn() + "|" + new String(b) + "|" + m.getSent().getTime();
    }
    public String scheduled(ScheduledEvent e) { return e.getDetailType() + "|" + e.getTime(); }
}
""",
    "example/WhereIsCore.java": """
package example;
import com.amazonaws.services.lambda.runtime.*;
public class WhereIsCore implements RequestHandler<String, String> {
    public String handleRequest(String in, Context ctx) {
        return String.valueOf(RequestHandler.class.getProtectionDomain().getCodeSource().getLocation());
    }
}
""",
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def bootstrap_jar(tmp_path_factory) -> Path:
    return jb.ensure_java_bootstrap(tmp_path_factory.mktemp("java-bootstrap-cache"))


@pytest.fixture(scope="session")
def task_root(tmp_path_factory, bootstrap_jar) -> Path:
    """All test handlers, compiled against the bootstrap's API classes."""
    base = tmp_path_factory.mktemp("java-fn")
    src, root = base / "src", base / "task"
    root.mkdir()
    files = []
    for rel, text in HANDLERS.items():
        p = src / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        files.append(str(p))
    assert JAVAC is not None
    subprocess.run(
        [JAVAC, "--release", "17", "-encoding", "UTF-8", "-cp", str(bootstrap_jar), "-d", str(root), *files],
        check=True,
        timeout=120,
    )
    return root


class Fn:
    """A running Java runtime plus its fake Runtime API."""

    def __init__(self, api: FakeRuntimeAPI, proc: subprocess.Popen, out: Path):
        self.api, self.proc, self.out = api, proc, out

    def invoke(self, payload=b"{}", timeout: float = WAIT, **kw):
        if not isinstance(payload, (bytes, str)):
            payload = json.dumps(payload)
        return self.api.invoke(payload, timeout=timeout, **kw)

    def stdout(self) -> str:
        return self.out.read_bytes().decode("utf-8")


@pytest.fixture
def start(tmp_path, bootstrap_jar, task_root):
    apis: list[FakeRuntimeAPI] = []
    procs: list[subprocess.Popen] = []

    def _start(handler: str, root: Path | None = None, **env_extra: str) -> Fn:
        root = root or task_root
        api = FakeRuntimeAPI().start()
        apis.append(api)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "_HANDLER", "LAMBDA_", "JAVA_TOOL_OPTIONS"))
        }
        env.update(
            AWS_LAMBDA_RUNTIME_API=api.address,
            _HANDLER=handler,
            LAMBDA_TASK_ROOT=str(root),
            AWS_LAMBDA_FUNCTION_NAME="fn",
            AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE="512",
            AWS_REGION="us-east-1",
            AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/fn",
            AWS_LAMBDA_LOG_STREAM_NAME="2024/01/01/[$LATEST]abc",
        )
        env.update(env_extra)
        out = tmp_path / f"stdout{len(procs)}.txt"
        argv = jb.java_command(bootstrap_jar, root, [])
        with open(out, "wb") as fh:
            proc = subprocess.Popen(argv, cwd=root, env=env, stdout=fh, stderr=subprocess.STDOUT)
        procs.append(proc)
        return Fn(api, proc, out)

    yield _start
    for p in procs:
        if p.poll() is None:
            p.kill()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass
    for a in apis:
        a.close()


# --------------------------------------------------------------------------- handler kinds


def test_request_handler_map_echo(start):
    fn = start("example.EchoMap")
    res = fn.invoke(
        {"s": "x", "i": 7, "big": 12345678901, "f": 1.5, "b": True, "n": None, "l": [1, "a"], "m": {"k": "v"}}
    )
    assert res.kind == "response", res.body
    assert res.json() == (
        "s=x:String;i=7:Integer;big=12345678901:Long;f=1.5:Double;b=true:Boolean;"
        "n=null:null;l=[1, a]:ArrayList;m={k=v}:LinkedHashMap;"
    )


def test_pojo_in_and_out(start):
    fn = start("example.PojoHandler")
    res = fn.invoke(
        {
            "name": "Ann",
            "age": 30,
            "unknown": {"ignored": True},
            "address": {"city": "Paris", "zip": "75001"},
            "previous": [{"city": "Lyon"}, {"city": "Nice"}],
            "scores": {"math": 9},
        }
    )
    assert res.kind == "response", res.body
    body = res.json()
    # null properties are left out; getURL -> "URL" (standard bean naming), isAdult -> "adult"
    assert body == {
        "message": "Hello Ann",
        "adult": True,
        "address": {"city": "Paris", "zip": "75001"},
        "cities": ["Lyon", "Nice", "score:9"],
        "URL": "http://example.com",
        "totalScore": 0,
    }
    assert "nothing" not in body
    # property order follows the declared fields, then getter-only properties
    assert list(body)[:4] == ["message", "adult", "address", "cities"]


def test_pojo_bad_json_is_a_parsing_error(start):
    fn = start("example.PojoHandler")
    res = fn.invoke(b'{"name": "Ann", "age": ')
    assert res.kind == "error"
    body = res.json()
    assert body["errorType"] == "java.lang.RuntimeException"
    assert body["errorMessage"] == "An error occurred during JSON parsing"
    assert "cause" in body
    # the runtime stays up
    assert fn.invoke({"name": "Bob", "age": 3}).json()["adult"] is False


def test_request_stream_handler_echo(start):
    fn = start("example.StreamEcho")
    payload = b'{"raw": "bytes \xc3\xa9", "x": [1,2,3]}'
    res = fn.invoke(payload)
    assert res.kind == "response" and res.body == payload
    assert fn.invoke(b"not json at all").body == b"not json at all"
    big = b'"' + b"x" * (5 * 1024 * 1024) + b'"'
    assert fn.invoke(big).body == big
    assert fn.invoke(b"").body == b""


def test_plain_methods_by_name(start):
    fn = start("example.Methods::greet")
    res = fn.invoke({"name": "Zoe"})
    assert res.kind == "response" and res.json() == "hi Zoe from fn"

    fn2 = start("example.Methods::twice")  # static, boxed input, no Context
    assert fn2.invoke(b"21").json() == 42

    fn3 = start("example.Methods::upper")  # (InputStream, OutputStream)
    assert fn3.invoke(b'"abc"').body == b'"ABC"'

    fn4 = start("example.Methods::nothing")  # void -> null
    assert fn4.invoke({"a": 1}).body == b"null"

    fn5 = start("example.Methods::noArgs")
    assert fn5.invoke({"a": 1}).json() == ["a", "b"]


def test_event_classes_like_aws_events_library(start):
    fn = start("example.EventsHandler::sqs")
    res = fn.invoke(
        {"Records": [{"body": "hi", "eventSourceARN": "arn:q", "binary": "Ynl0ZXM=", "sent": 1545084650.987}]}
    )
    assert res.kind == "response", res.body
    assert res.json() == "hi|arn:q|bytes|1545084650987"

    fn2 = start("example.EventsHandler::scheduled")
    res = fn2.invoke({"detail-type": "Scheduled Event", "time": "2019-10-08T16:53:06Z", "source": "aws.events"})
    assert res.kind == "response", res.body
    assert res.json() == "Scheduled Event|2019-10-08T16:53:06Z"


def test_string_input_and_logging_to_stdout(start):
    fn = start("example.Logging")
    res = fn.invoke('"hello"')
    assert res.kind == "response" and res.json() == "HELLO"
    out = fn.stdout()  # flushed before the response is posted
    assert "logger-line hello\n" in out
    assert "runtime-logger-line\n" in out
    assert "stdout-line \u00e9t\u00e9\n" in out
    assert "no-newline" in out


# --------------------------------------------------------------------------- context


def test_context_fields(start):
    fn = start("example.ContextHandler")
    deadline = int(time.time() * 1000) + 60_000
    arn = "arn:aws:lambda:us-east-1:000000000000:function:fn:live"
    res = fn.invoke(
        {"k": [1, 2]},
        deadline_ms=deadline,
        function_arn=arn,
        trace_id="Root=1-abc;Sampled=1",
        client_context={
            "client": {"installation_id": "inst-1", "app_title": "App"},
            "custom": {"c": "d"},
            "env": {"platform": "Android"},
        },
        cognito_identity={"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"},
    )
    assert res.kind == "response", res.body
    c = res.json()
    assert c["awsRequestId"] == res.request_id
    assert c["functionName"] == "fn"
    assert c["functionVersion"] == "$LATEST"
    assert c["logGroupName"] == "/aws/lambda/fn"
    assert c["logStreamName"] == "2024/01/01/[$LATEST]abc"
    assert c["invokedFunctionArn"] == arn
    assert c["memoryLimitInMB"] == 512
    assert 0 < c["remainingTimeInMillis"] <= 60_000
    assert c["hasLogger"] is True
    assert c["identityId"] == "id-1" and c["identityPoolId"] == "pool-1"
    assert c["installationId"] == "inst-1" and c["appTitle"] == "App"
    assert c["custom"] == {"c": "d"} and c["env"] == {"platform": "Android"}
    assert c["traceProperty"] == "Root=1-abc;Sampled=1"
    assert c["input"] == {"k": [1, 2]}

    # without the optional headers, identity and client context are null (and left out)
    c2 = fn.invoke({}).json()
    assert "identityId" not in c2 and "custom" not in c2


# --------------------------------------------------------------------------- errors


def test_exception_becomes_error_with_type_and_header(start):
    fn = start("example.Failing")
    res = fn.invoke({"x": 1})
    assert res.kind == "error"
    assert res.error_type_header == "Runtime.UserException"
    body = res.json()
    assert body["errorType"] == "java.lang.IllegalStateException"
    assert body["errorMessage"] == "boom"
    assert body["stackTrace"] and body["stackTrace"][0].startswith("example.Failing.handleRequest(Failing.java:")
    assert not any("locallambda" in line for line in body["stackTrace"])
    assert body["cause"]["errorType"] == "java.lang.IllegalArgumentException"
    assert body["cause"]["errorMessage"] == "root cause"
    assert "boom: java.lang.IllegalStateException" in fn.stdout()
    # the same JVM keeps serving
    assert fn.invoke({"x": 2}).kind == "error"
    assert fn.proc.poll() is None


def test_missing_class_is_an_init_error(start):
    fn = start("example.DoesNotExist")
    err = fn.api.wait_init_error(timeout=WAIT)
    assert err.json() == {
        "errorMessage": "Class not found: example.DoesNotExist",
        "errorType": "java.lang.ClassNotFoundException",
    }
    assert err.error_type_header == "Runtime.BadFunctionCode"
    assert fn.proc.wait(timeout=WAIT) == 1
    assert fn.api.next_call_count == 0


def test_constructor_failure_is_an_init_error(start):
    fn = start("example.CtorFails")
    err = fn.api.wait_init_error(timeout=WAIT)
    assert err.json() == {"errorMessage": "cannot start", "errorType": "java.lang.IllegalStateException"}
    assert fn.proc.wait(timeout=WAIT) == 1


def test_static_initializer_failure_is_an_init_error(start):
    fn = start("example.StaticFails")
    err = fn.api.wait_init_error(timeout=WAIT)
    assert err.json() == {
        "errorMessage": "Error loading class example.StaticFails",
        "errorType": "java.lang.ExceptionInInitializerError",
    }
    assert fn.proc.wait(timeout=WAIT) == 1
    assert "static boom" in fn.stdout()  # the cause's stack trace is logged


@pytest.mark.parametrize(
    "handler, message",
    [
        ("example.NotAHandler", "Class does not implement an appropriate handler interface: example.NotAHandler"),
        (
            "example.Methods::missing",
            "No public method named missing with appropriate method signature found on class example.Methods",
        ),
        (
            "example.NotAHandler::run",
            "No public method named run with appropriate method signature found on class example.NotAHandler",
        ),
    ],
)
def test_unusable_handler_is_an_init_error(start, handler, message):
    fn = start(handler)
    err = fn.api.wait_init_error(timeout=WAIT)
    assert err.json()["errorMessage"] == message
    assert fn.proc.wait(timeout=WAIT) == 1


# --------------------------------------------------------------------------- lifecycle


def test_sequential_invokes_reuse_one_jvm(start):
    fn = start("example.Counter")
    results = [fn.invoke({"i": i}).json() for i in range(5)]
    assert [r["calls"] for r in results] == [1, 2, 3, 4, 5]
    assert [r["i"] for r in results] == [0, 1, 2, 3, 4]
    assert {r["pid"] for r in results} == {fn.proc.pid}
    fn.api.wait_next_call(6, timeout=WAIT)
    assert fn.proc.poll() is None


def test_layer_jars_from_a_lib_directory(start, tmp_path, bootstrap_jar, task_root):
    """A jar in an extra (layer) directory is on the class path: the handler class comes from it."""
    layer_lib = tmp_path / "opt" / "java" / "lib"
    layer_lib.mkdir(parents=True)
    with zipfile.ZipFile(layer_lib / "handlers.jar", "w") as z:
        for f in (task_root / "example").glob("Counter*.class"):
            z.write(f, f"example/{f.name}")
    empty_root = tmp_path / "task"
    empty_root.mkdir()
    api = FakeRuntimeAPI().start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "_HANDLER", "LAMBDA_"))}
        env.update(AWS_LAMBDA_RUNTIME_API=api.address, _HANDLER="example.Counter", LAMBDA_TASK_ROOT=str(empty_root))
        proc = subprocess.Popen(
            jb.java_command(bootstrap_jar, empty_root, [layer_lib]),
            cwd=empty_root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            res = api.invoke(b'{"i": 1}', timeout=WAIT)
            assert res.kind == "response" and res.json()["calls"] == 1
        finally:
            proc.kill()
            proc.wait(timeout=10)
    finally:
        api.close()


def test_task_root_off_the_class_path_gets_a_child_loader(bootstrap_jar, task_root):
    """Started with only the bootstrap jar on the class path, the runtime loads LAMBDA_TASK_ROOT itself."""
    api = FakeRuntimeAPI().start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "_HANDLER", "LAMBDA_"))}
        env.update(AWS_LAMBDA_RUNTIME_API=api.address, LAMBDA_TASK_ROOT=str(task_root))
        assert JAVA is not None
        argv = [JAVA, "-cp", str(bootstrap_jar), jb.MAIN_CLASS, "example.Failing"]  # handler as argument
        proc = subprocess.Popen(argv, cwd=task_root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            res = api.invoke(b"{}", timeout=WAIT)
            assert res.kind == "error"
            assert res.json()["stackTrace"][0].startswith("example.Failing.handleRequest(Failing.java:")
        finally:
            proc.kill()
            proc.wait(timeout=10)
    finally:
        api.close()


def test_bundled_core_jar_loses_to_the_bootstrap_api(start, tmp_path, bootstrap_jar, task_root):
    """A function jar that bundles its own copy of the API classes still works: ours come first."""
    root = tmp_path / "task"
    shutil.copytree(task_root, root)
    (root / "lib").mkdir()
    with (
        zipfile.ZipFile(bootstrap_jar) as src,
        zipfile.ZipFile(root / "lib" / "aws-lambda-java-core-1.2.3.jar", "w") as dst,
    ):
        for name in src.namelist():
            if name.startswith("com/amazonaws/"):
                dst.writestr(name, src.read(name))
    fn = start("example.WhereIsCore", root=root)
    res = fn.invoke('"x"')
    assert res.kind == "response", res.body
    assert res.json().endswith(bootstrap_jar.name)


# --------------------------------------------------------------------------- java_bootstrap.py


def test_ensure_is_cached_and_safe_to_race(tmp_path):
    cache = tmp_path / "cache"
    results: list[Path] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            results.append(jb.ensure_java_bootstrap(cache, cds=False))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not errors and len(results) == 2 and results[0] == results[1]
    jar = results[0]
    with zipfile.ZipFile(jar) as z:
        assert z.testzip() is None
        names = set(z.namelist())
    assert "locallambda/runtime/Bootstrap.class" in names
    assert "com/amazonaws/services/lambda/runtime/Context.class" in names
    assert [p.name for p in cache.iterdir() if p.name.startswith(".build-")] == []
    mtime = jar.stat().st_mtime_ns
    assert jb.ensure_java_bootstrap(cache, cds=False) == jar
    assert jar.stat().st_mtime_ns == mtime  # reused, not built again


def test_missing_javac_raises(tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(jb.JavacNotFoundError, match="javac"):
        jb.ensure_java_bootstrap(tmp_path / "cache", cds=False)


def test_java_command_layout(tmp_path):
    root = tmp_path / "task"
    (root / "lib").mkdir(parents=True)
    for name in ("b.jar", "a.jar", "notes.txt"):
        (root / "lib" / name).write_text("")
    layer = tmp_path / "opt" / "java" / "lib"
    layer.mkdir(parents=True)
    (layer / "z.jar").write_text("")
    boot = tmp_path / "boot.jar"
    argv = jb.java_command(boot, root, [Path("/opt/java/lib/*"), layer, Path("/nonexistent/java/lib")], cds=False)
    assert argv[0] == "java" and argv[-1] == jb.MAIN_CLASS
    assert "-XX:TieredStopAtLevel=1" in argv
    cp = argv[argv.index("-cp") + 1].split(os.pathsep)
    assert cp == [
        str(boot),
        str(root),
        str(root / "lib" / "a.jar"),
        str(root / "lib" / "b.jar"),
        "/opt/java/lib/*",
        str(layer),
        str(layer / "z.jar"),
        "/nonexistent/java/lib",
        "/nonexistent/java/lib/*",
    ]
    # a task root that is not visible here (e.g. inside a container) gets the wildcard
    argv = jb.java_command(boot, Path("/var/task"), [], handler="example.H::run", cds=False)
    assert argv[argv.index("-cp") + 1].split(os.pathsep) == [str(boot), "/var/task", "/var/task/lib/*"]
    assert argv[-2:] == [jb.MAIN_CLASS, "example.H::run"]
    # a visible task root without lib/ adds nothing for it
    bare = tmp_path / "bare"
    bare.mkdir()
    argv = jb.java_command(boot, bare, [], cds=False)
    assert argv[argv.index("-cp") + 1].split(os.pathsep) == [str(boot), str(bare)]


def test_java_tool_options_override_the_defaults(tmp_path):
    boot = tmp_path / "boot.jar"
    argv = jb.java_command(boot, tmp_path, [], cds=False, java_tool_options="-XX:TieredStopAtLevel=4")
    assert not any("Tiered" in a for a in argv)
    assert "-Xshare:auto" in argv
    argv = jb.java_command(boot, tmp_path, [], java_tool_options="-Xshare:off")
    assert not any("Xshare" in a or "SharedArchiveFile" in a for a in argv)


def test_cds_archive_is_used_when_present(bootstrap_jar, task_root):
    archive = jb.cds_archive_path(bootstrap_jar)
    argv = jb.java_command(bootstrap_jar, task_root, [])
    if archive is not None and archive.is_file():
        assert f"-XX:SharedArchiveFile={archive}" in argv
    assert not any(
        a.startswith("-XX:SharedArchiveFile") for a in jb.java_command(bootstrap_jar, task_root, [], cds=False)
    )
