"""Every operation of the Lambda service model, fed malformed input through raw HTTP.

Requests are generated from the model's input shapes (hypothesis, derandomized, a few examples
per operation): members of the wrong type, odd and huge strings, lone surrogates, missing
required members, deep JSON, junk bodies, wrong content types. For each answer:

- never a 5xx, except 501 ``NotImplementedException`` for operations this server lacks;
- every error in AWS's shape: ``x-amzn-ErrorType`` and a JSON body with a message;
- a refused request changed nothing stored (functions, versions, aliases, policy, layers);
- the server is healthy afterwards.

Bounded: one server for the module, loopback only, a few examples per operation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from locallambda.protocol.model import load_service_model
from tests.abuse.wire import Answer, assert_aws_error, send
from tests.conftest import ROLE, Server, make_zip

MODEL = load_service_model()
VICTIM = "victim"
EXAMPLES = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

# -- values ---------------------------------------------------------------------------------------

HUGE = [n * "a" for n in (257, 4097, 8193)]
ODD_TEXT = ["", " ", "\x00", "\ud800", "a\udfff", "\U0001f600", "\u202e", "$LATEST", "..", "../../etc", "%", "'\""]
# In a path or a query (the HTTP server refuses request lines over 64 KiB before the API sees them).
url_strings = st.one_of(st.sampled_from(ODD_TEXT + HUGE), st.text(max_size=20))
odd_strings = st.one_of(url_strings, st.just(70_000 * "a"))
odd_numbers = st.sampled_from([-1, 0, 2**31, 2**63, -(2**64), 10**30, 1.5, -0.0, 1e308])
scalars = st.one_of(st.none(), st.booleans(), odd_numbers, odd_strings)
any_json = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(odd_strings, inner, max_size=3), max_leaves=6
)


def wrong(shape: Shape) -> st.SearchStrategy[Any]:
    """A JSON value of another type than the shape's."""
    t = shape.type_name
    choices: list[Any] = []
    if t not in ("string", "blob", "timestamp"):
        choices += ["abc", "1"]
    if t not in ("integer", "long", "float", "double", "timestamp"):
        choices += [7, 2.5]
    if t != "boolean":
        choices.append(True)
    if t != "list":
        choices.append([1, "a"])
    if t not in ("structure", "map"):
        choices.append({"a": 1})
    if t in ("integer", "long"):
        choices += [2**70, "12"]
    return st.sampled_from(choices)


def typed(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """A value of the shape's type, often odd, sometimes of the wrong type further down."""
    t = shape.type_name
    if depth > 3:
        return st.none()
    if isinstance(shape, StructureShape):
        members = {n: member_value(m, depth + 1) for n, m in shape.members.items()}
        return st.fixed_dictionaries({}, optional=members)
    if isinstance(shape, ListShape):
        return st.lists(member_value(shape.member, depth + 1), max_size=3)
    if isinstance(shape, MapShape):
        return st.dictionaries(odd_strings, member_value(shape.value, depth + 1), max_size=3)
    if t == "string":
        enum = getattr(shape, "enum", None)
        return st.one_of(st.sampled_from(enum), odd_strings) if enum else odd_strings
    if t in ("integer", "long", "float", "double"):
        return st.one_of(st.integers(-5, 20_000), odd_numbers)
    if t == "boolean":
        return st.booleans()
    if t == "blob":
        return st.sampled_from(["", "aGk=", "not base64!", "===="])
    return st.one_of(st.integers(0, 2**40), odd_strings)  # timestamps: epoch numbers or text


def member_value(shape: Shape, depth: int) -> st.SearchStrategy[Any]:
    return st.one_of(typed(shape, depth), wrong(shape), st.none())


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


JUNK_BODIES = [
    b"",
    b"null",
    b"[]",
    b'"text"',
    b"{",
    b"{}}",
    b'{"a": NaN}',
    b'{"a": 1e999}',
    b"\xff\xfe\x00",
    b'{"\xed\xa0\x80": 1}',
    nested(1001),
    b"[" * 50_000,
]

# -- requests -------------------------------------------------------------------------------------


def location(member: Shape) -> str | None:
    where: str | None = member.serialization.get("location")
    return where


def uri_value(member: Shape) -> st.SearchStrategy[str]:
    """A path segment, percent-encoded: the seeded function's name, odd text, or raw bad escapes."""
    text = st.one_of(
        st.just(VICTIM),
        url_strings.map(lambda s: quote(s.encode("utf-8", "surrogatepass"), safe="")),
        wrong(member).map(lambda v: quote(str(v), safe="")),
    )
    raw = st.sampled_from(["%", "%zz", "%ED%A0%80", "%00", "a%2Fb", VICTIM + "%3A1"])
    return st.one_of(text, raw).filter(bool)


@st.composite
def requests(draw: st.DrawFn, op: OperationModel) -> tuple[str, str, dict[str, str], bytes]:
    shape = op.input_shape
    path, _, literal_query = op.http["requestUri"].partition("?")
    query = [literal_query] if literal_query else []
    headers = {"content-type": draw(st.sampled_from(["application/json", "text/plain", "application/x-amz-json-1.1"]))}
    body_members: dict[str, Shape] = {}
    payload = shape.serialization.get("payload") if shape is not None else None
    for name, member in shape.members.items() if shape is not None else ():
        wire = member.serialization.get("name", name)
        where = location(member)
        if where == "uri":
            value = draw(uri_value(member))
            path = path.replace("{" + wire + "+}", value).replace("{" + wire + "}", value)
        elif where == "querystring" and draw(st.booleans()):
            value = draw(st.one_of(url_strings, wrong(member).map(str), st.integers(-5, 100).map(str)))
            query.append(f"{quote(wire)}={quote(value.encode('utf-8', 'surrogatepass'), safe='')}")
        elif where == "header" and draw(st.booleans()):
            headers[wire] = draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40))
        elif where is None and name != payload:
            body_members[name] = member
    if payload is not None and shape is not None and shape.members[payload].type_name == "blob":
        body = draw(st.one_of(st.sampled_from(JUNK_BODIES), any_json.map(dumps)))
    else:
        target = shape.members[payload] if payload is not None and shape is not None else None
        kind = draw(st.sampled_from(["typed", "typed", "missing-required", "junk"]))
        if kind == "junk" or (not body_members and target is None):
            body = draw(st.sampled_from(JUNK_BODIES))
        elif target is not None:
            body = dumps(draw(st.one_of(typed(target), wrong(target))))
        else:
            members = {n: member_value(m, 1) for n, m in body_members.items()}
            doc = draw(st.fixed_dictionaries({}, optional=members))
            if kind == "missing-required" and shape is not None:
                for name in shape.required_members:
                    doc.pop(name, None)
            body = dumps(doc)
    return op.http["method"], path + ("?" + "&".join(query) if query else ""), headers, body


def dumps(value: Any) -> bytes:
    # ensure_ascii (the default): a lone surrogate travels as its JSON escape.
    return json.dumps(value).encode()


# -- the server and what it stores ---------------------------------------------------------------


@pytest.fixture(scope="module")
def victim_server() -> Iterator[Server]:
    with Server(env={"LAMBDA_SYNCHRONOUS_CREATE": "1"}) as srv:
        client = srv.client()
        code = make_zip({"handler.py": "def handler(event, context):\n    return event\n"})
        client.create_function(
            FunctionName=VICTIM, Runtime="python3.12", Role=ROLE, Handler="handler.handler", Code={"ZipFile": code}
        )
        version = client.publish_version(FunctionName=VICTIM)["Version"]
        client.create_alias(FunctionName=VICTIM, Name="live", FunctionVersion=version)
        client.add_permission(
            FunctionName=VICTIM, StatementId="s1", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com"
        )
        client.publish_layer_version(LayerName="victim-layer", Content={"ZipFile": make_zip({"a.txt": "a"})})
        yield srv


STATE_PATHS = [
    "/2015-03-31/functions/?FunctionVersion=ALL",
    f"/2015-03-31/functions/{VICTIM}",
    f"/2015-03-31/functions/{VICTIM}/aliases",
    f"/2015-03-31/functions/{VICTIM}/policy",
    f"/2015-03-31/functions/{VICTIM}/versions",
    "/2018-10-31/layers",
]


def stored(srv: Server) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    for path in STATE_PATHS:
        answer = send(srv.port, "GET", path)
        assert answer.status < 500, (path, answer.body[:300])
        out.append((answer.status, answer.json() if answer.body else None))
    return out


class Observer:
    """What the server stored before the last request, refreshed when a request succeeds."""

    def __init__(self, srv: Server) -> None:
        self.srv = srv
        self.state = stored(srv)

    def check(self, request: tuple[str, str, dict[str, str], bytes], answer: Answer) -> None:
        method, path, _, body = request
        what = f"{method} {path[:200]} {body[:200]!r}"
        if answer.status >= 400:
            assert_aws_error(answer, allow_not_implemented=True)
        if answer.status == 501:
            assert answer.error_type == "NotImplementedException", what
        now = stored(self.srv)
        if answer.status >= 400:
            assert now == self.state, f"a refused request changed what is stored: {what} -> {answer.body[:300]!r}"
        self.state = now


OPERATIONS = sorted(MODEL.operation_names)


def test_a_request_line_too_long_for_the_http_server_is_a_client_error(victim_server: Server) -> None:
    answer = send(victim_server.port, "GET", "/2018-10-31/layers?Marker=" + 70_000 * "a")
    assert answer.status == 400, answer.body[:300]  # refused by the HTTP server, not the API
    assert send(victim_server.port, "GET", "/_localstack/health").status == 200


@pytest.mark.parametrize("name", OPERATIONS)
def test_malformed_requests_get_aws_errors_and_change_nothing(victim_server: Server, name: str) -> None:
    op = MODEL.operation_model(name)
    observer = Observer(victim_server)

    @EXAMPLES
    @given(requests(op))
    def attempt(request: tuple[str, str, dict[str, str], bytes]) -> None:
        method, path, headers, body = request
        answer = send(victim_server.port, method, path, body, headers=headers, timeout=60)
        assert answer.status < 500 or answer.status == 501, (
            f"{method} {path[:200]} {body[:200]!r} -> {answer.status} {answer.body[:300]!r}"
        )
        observer.check(request, answer)

    attempt()
    assert send(victim_server.port, "GET", "/_localstack/health").status == 200
