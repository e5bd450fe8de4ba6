"""Property tests of the parsers: function names and ARNs (model/refs.py), the rest-json codec
(protocol/codec.py), zip intake (store/archive.py) and validation (protocol/validation.py). Each
either succeeds as specified or raises one of our own errors, never anything else."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import stat
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.model import OperationModel, Shape
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from locallambda.errors import (
    InvalidParameterValueError,
    LambdaError,
    ResourceNotFoundError,
    SerializationError,
    ValidationError,
)
from locallambda.model.refs import FunctionRef, function_arn, parse_function_name
from locallambda.protocol.codec import parse_request, serialize_response
from locallambda.protocol.model import load_service_model
from locallambda.protocol.validation import validate
from locallambda.store.archive import extract_zip

MODEL = load_service_model()
# Derandomized: the same examples every run (a failure reproduces; CI does not flake).
EXAMPLES = settings(
    max_examples=200, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
SHAPES = settings(EXAMPLES, max_examples=100)  # examples built from the model's shapes cost more
REGION, ACCOUNT = "us-east-1", "000000000000"

# -- function names and ARNs -------------------------------------------------------------------

_WORD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
names = st.text(_WORD + ".", min_size=1, max_size=64)
qualifiers = st.one_of(st.just("$LATEST"), st.text(_WORD, min_size=1, max_size=128))
maybe_qualifiers = st.one_of(st.none(), qualifiers)
regions = st.sampled_from(["us-east-1", "eu-west-2", "ap-southeast-1", "us-gov-west-1", "cn-north-1"])
accounts = st.text("0123456789", min_size=12, max_size=12)
_ARN_PREFIX = re.compile(r"function|[0-9]{12}|[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]")


@EXAMPLES
@given(names, maybe_qualifiers, regions, accounts)
def test_full_arns_round_trip(name: str, qualifier: str | None, region: str, account: str) -> None:
    arn = function_arn(region, account, name, qualifier)
    ref = parse_function_name(arn, region, ACCOUNT)
    assert ref == FunctionRef(name=name, qualifier=qualifier, region=region, account_id=account)
    assert ref.arn() == arn


@EXAMPLES
@given(names, maybe_qualifiers, accounts)
def test_partial_arns_and_names_round_trip(name: str, qualifier: str | None, account: str) -> None:
    suffix = f":{qualifier}" if qualifier else ""
    partial = parse_function_name(f"{account}:function:{name}{suffix}", REGION, ACCOUNT)
    assert partial == FunctionRef(name=name, qualifier=qualifier, region=REGION, account_id=account)
    # ``name:qualifier`` is ambiguous when the name itself looks like an ARN part (``function``,
    # an account id, a region): AWS's own pattern reads those as that part, and so do we.
    assume(qualifier is None or not _ARN_PREFIX.fullmatch(name))
    plain = parse_function_name(f"{name}{suffix}", REGION, ACCOUNT)
    assert plain == FunctionRef(name=name, qualifier=qualifier, region=REGION, account_id=ACCOUNT)
    assert plain.arn() == function_arn(REGION, ACCOUNT, name, qualifier)


@EXAMPLES
@given(names, qualifiers, qualifiers)
def test_a_qualifier_parameter_must_agree_with_the_arns(name: str, derived: str, given_q: str) -> None:
    arn = function_arn(REGION, ACCOUNT, name, derived)
    if derived == given_q:
        assert parse_function_name(arn, REGION, ACCOUNT, given_q).qualifier == derived
    else:
        with pytest.raises(InvalidParameterValueError, match="derived qualifier"):
            parse_function_name(arn, REGION, ACCOUNT, given_q)
    assert parse_function_name(function_arn(REGION, ACCOUNT, name), REGION, ACCOUNT, given_q).qualifier == given_q


@EXAMPLES
@given(names, regions.filter(lambda r: r != REGION))
def test_an_arn_of_another_region_is_not_reachable(name: str, region: str) -> None:
    with pytest.raises(ResourceNotFoundError, match="not reachable in this region"):
        parse_function_name(function_arn(region, ACCOUNT, name), REGION, ACCOUNT)


arn_like_text = st.lists(
    st.one_of(
        st.sampled_from(["arn", "aws", "lambda", "function", "us-east-1", ACCOUNT, "$LATEST", ""]), st.text(max_size=8)
    ),
    max_size=8,
).map(":".join)


@EXAMPLES
@given(st.one_of(st.text(), arn_like_text), maybe_qualifiers)
def test_any_text_parses_or_raises_our_errors_and_parses_back_the_same(raw: str, qualifier: str | None) -> None:
    # (The Qualifier parameter has passed the model's pattern before it gets here.)
    try:
        ref = parse_function_name(raw, REGION, ACCOUNT, qualifier)
    except LambdaError:
        return
    assert parse_function_name(ref.arn(), REGION, ACCOUNT) == ref


# -- shape-driven values -----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def values_for(shape: Shape, depth: int = 0, junk: bool = False) -> st.SearchStrategy[Any]:
    """Values of the shape's type (constraints not heeded); with ``junk``, sometimes any JSON."""
    typed = _typed(shape, depth, junk)
    return st.one_of(typed, json_values) if junk else typed


def _typed(shape: Shape, depth: int, junk: bool) -> st.SearchStrategy[Any]:
    t = shape.type_name
    if depth > 3:
        return st.none()
    if t == "structure":
        members = {n: values_for(m, depth + 1, junk) for n, m in shape.members.items()}
        return st.fixed_dictionaries({}, optional=members)
    if t == "list":
        return st.lists(values_for(shape.member, depth + 1, junk), max_size=2)
    if t == "map":
        keys = values_for(shape.key, depth + 1).filter(lambda k: isinstance(k, str))
        return st.dictionaries(keys, values_for(shape.value, depth + 1, junk), max_size=2)
    if t == "string":
        enum = getattr(shape, "enum", None)
        return st.one_of(st.sampled_from(enum), st.text(max_size=12)) if enum else st.text(max_size=30)
    if t in ("integer", "long"):
        return st.integers(-(2**40), 2**40)
    if t in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False)
    if t == "boolean":
        return st.booleans()
    if t == "blob":
        return st.binary(max_size=16)
    return st.text(max_size=10)  # timestamps travel as text or numbers


def operation(name: str) -> OperationModel:
    return MODEL.operation_model(name)


def location(member: Shape) -> str | None:
    return member.serialization.get("location")


# -- the rest-json codec -----------------------------------------------------------------------


@st.composite
def requests(draw: st.DrawFn) -> tuple[OperationModel, dict[str, str], dict[str, list[str]], dict[str, str], bytes]:
    op = operation(draw(st.sampled_from(sorted(MODEL.operation_names))))
    uri: dict[str, str] = {}
    query: dict[str, list[str]] = {}
    headers: dict[str, str] = {}
    for name, member in op.input_shape.members.items() if op.input_shape else []:
        wire = member.serialization.get("name", name)
        where = location(member)
        if where == "uri":
            uri[wire] = draw(st.text(min_size=1, max_size=20))
        elif where == "querystring" and draw(st.booleans()):
            query[wire] = draw(st.lists(st.text(max_size=12), max_size=2))
        elif where == "header" and draw(st.booleans()):
            headers[wire.lower()] = draw(st.text(max_size=12))
    return op, uri, query, headers, draw(BODIES[op.name])


def _json(value: Any) -> bytes:
    # Blobs travel base64-encoded in a JSON body; the junk strings among them are not base64.
    return json.dumps(value, default=lambda b: base64.b64encode(b).decode()).encode()


def _bodies(op: OperationModel) -> st.SearchStrategy[bytes]:
    """Bodies of the model's members (typed or not), objects of other names, other JSON, bytes."""
    shape = op.input_shape
    members = {n: values_for(m, 1, junk=True) for n, m in shape.members.items() if location(m) is None} if shape else {}
    objects = st.fixed_dictionaries({}, optional=members) | st.dictionaries(
        st.text(max_size=8), json_values, max_size=3
    )
    return st.one_of(objects.map(_json), json_values.map(_json), st.binary(max_size=30))


BODIES = {name: _bodies(operation(name)) for name in MODEL.operation_names}


@SHAPES
@given(requests())
def test_any_request_parses_or_raises_a_serialization_error(
    request: tuple[OperationModel, dict[str, str], dict[str, list[str]], dict[str, str], bytes],
) -> None:
    op, uri, query, headers, body = request
    try:
        params = parse_request(op, uri, query, headers, body)
    except SerializationError:
        return
    assert isinstance(params, dict)
    members = op.input_shape.members if op.input_shape else {}
    assert set(params) <= set(members)


@st.composite
def outputs(draw: st.DrawFn) -> tuple[OperationModel, dict[str, Any]]:
    name = draw(st.sampled_from(sorted(OUTPUTS)))
    return operation(name), draw(OUTPUTS[name])


OUTPUTS = {
    name: st.fixed_dictionaries(
        {}, optional={n: values_for(m) for n, m in shape.members.items() if location(m) != "statusCode"}
    )
    for name in MODEL.operation_names
    if (shape := operation(name).output_shape) is not None
}


@SHAPES
@given(outputs())
def test_any_output_of_the_model_serializes_where_the_model_says(output: tuple[OperationModel, dict[str, Any]]) -> None:
    op, out = output
    response = serialize_response(op, out)
    shape = op.output_shape
    assert shape is not None
    payload = shape.serialization.get("payload")
    header_names = {name for name, value in response.headers}
    for name, member in shape.members.items():
        if location(member) == "header" and out.get(name) is not None:
            assert member.serialization.get("name", name).lower().encode() in header_names
    if payload is None and response.body:
        doc = json.loads(response.body)
        body_members = {n for n, m in shape.members.items() if location(m) is None and out.get(n) is not None}
        assert set(doc) == body_members
    elif payload is not None and shape.members[payload].type_name == "blob" and out.get(payload) is not None:
        assert response.body == out[payload]  # the blob is the whole body, untouched


# -- validation --------------------------------------------------------------------------------

VALIDATED = ["CreateFunction", "UpdateFunctionConfiguration", "CreateAlias", "AddPermission", "Invoke",
             "PutFunctionEventInvokeConfig", "CreateEventSourceMapping", "PublishLayerVersion"]  # fmt: skip


@st.composite
def inputs(draw: st.DrawFn) -> tuple[OperationModel, dict[str, Any]]:
    name = draw(st.sampled_from(VALIDATED))
    return operation(name), draw(INPUTS[name, draw(st.booleans())])


# Built once: making strategies per draw would cost more than the validation under test.
INPUTS = {(n, junk): _typed(operation(n).input_shape, 0, junk) for n in VALIDATED for junk in (False, True)}


@SHAPES
@given(inputs())
def test_validation_returns_or_raises_a_validation_error_in_aws_words(
    given_input: tuple[OperationModel, dict[str, Any]],
) -> None:
    op, params = given_input
    try:
        validate(op.input_shape, params)
    except ValidationError as exc:
        assert re.match(r"[1-9][0-9]* validation errors? detected: Value", exc.message), exc.message
        required = [n for n in op.input_shape.required_members if params.get(n) is None]
        for name in required:
            assert (
                f"at '{name[:1].lower()}{name[1:]}' failed to satisfy constraint: Member must not be null"
                in exc.message
            )
    else:
        assert all(params.get(n) is not None for n in op.input_shape.required_members)


# -- zip intake --------------------------------------------------------------------------------

# Names a hostile archive may carry: climbing out, absolute, Windows drives and shares.
HOSTILE = r"a b.txt dir/c dir/ dir/sub/d .. ../x /abs /etc/passwd a/../../x ..\x C:\x C:x ./e dir/./f a/.. \\srv\s"
# Where a link may point: up and out (the target is base/jail/tree, beside base/outside), absolute.
LINK_TARGETS = ". .. ../.. a dir dir/.. dir/../.. / /etc/passwd sub/../../x ../../outside ../../../outside/keep"
entry_names = st.one_of(
    st.sampled_from(HOSTILE.split()),
    st.lists(st.sampled_from(["a", "dir", "..", ".", "", "x.py"]), min_size=1, max_size=4).map("/".join),
).filter(bool)  # an empty name is test_an_entry_without_a_name_is_refused's
link_targets = st.one_of(
    st.sampled_from(LINK_TARGETS.split()),
    st.just(""),
    st.lists(st.sampled_from(["a", "dir", "..", "."]), min_size=1, max_size=4).map("/".join),
)
entries = st.lists(
    st.tuples(entry_names, st.sampled_from(["file", "link", "exe"]), st.one_of(link_targets, st.text(max_size=20))),
    max_size=6,
)


def archive(items: list[tuple[str, str, str]]) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        warnings.simplefilter("ignore")  # duplicate names are meant
        for name, kind, content in items:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            mode = {"file": stat.S_IFREG | 0o644, "exe": stat.S_IFREG | 0o755, "link": stat.S_IFLNK | 0o777}[kind]
            info.external_attr = mode << 16
            zf.writestr(info, content)
    return buf.getvalue()


def snapshot(root: Path) -> set[tuple[str, bool]]:
    return {(str(p.relative_to(root)), p.is_symlink()) for p in root.rglob("*")}


@settings(EXAMPLES, max_examples=120)
@given(entries)
def test_extraction_stays_inside_the_target_or_refuses(items: list[tuple[str, str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp).resolve()
        (base / "outside").mkdir()
        (base / "outside" / "keep").write_text("untouched")
        target = base / "jail" / "tree"
        before = snapshot(base / "outside")
        try:
            extract_zip(archive(items), target, 1 << 16)
        except InvalidParameterValueError:
            pass
        else:
            for path in target.rglob("*"):
                real = Path(os.path.realpath(path))
                assert real.is_relative_to(target), f"{path} leads to {real}"
        # Whatever happened, nothing was written beside the target.
        assert snapshot(base / "outside") == before
        assert (base / "outside" / "keep").read_text() == "untouched"
        assert sorted(p.name for p in base.iterdir()) == ["jail", "outside"]
        assert [p.name for p in (base / "jail").iterdir()] == ["tree"]


def test_an_entry_without_a_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValueError):
        extract_zip(archive([("", "file", "x")]), tmp_path / "tree", 1 << 16)
