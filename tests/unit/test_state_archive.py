"""The state file (control/state_archive.py) without a server: what is written reads back the
same, and what is refused is refused with a message for the user."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest

from locallambda.control.state_archive import (
    FORMAT,
    FORMAT_VERSION,
    StateContent,
    StateFileError,
    read_state,
    write_state,
)
from locallambda.store.functions import FunctionRecord, VersionRecord
from tests.conftest import make_zip

CODE = make_zip({"handler.py": "def handler(e, c):\n    return 1\n"})
SHA = hashlib.sha256(CODE).hexdigest()
ARN = "arn:aws:lambda:us-east-1:000000000000:function:fn"


def content() -> StateContent:
    config = {"FunctionName": "fn", "FunctionArn": ARN, "Version": "$LATEST", "State": "Active"}
    record = FunctionRecord(
        name="fn", region="us-east-1", account_id="000000000000", latest=VersionRecord(config, SHA, None, 10)
    )
    manifest = {"Format": FORMAT, "FormatVersion": FORMAT_VERSION}
    return StateContent(
        functions=[record], layers={}, mappings={}, code_signing={}, blobs={SHA: CODE}, manifest=manifest
    )


def test_what_is_written_reads_back_the_same() -> None:
    written = content()
    back = read_state(write_state(written))
    assert [r.to_doc() for r in back.functions] == [r.to_doc() for r in written.functions]
    assert back.blobs == {SHA: CODE}
    assert back.counts() == {"Functions": 1, "Layers": 0, "EventSourceMappings": 0, "CodeSigningConfigs": 0}


def edited(name: str, data: bytes | None) -> bytes:
    """The written file with entry ``name`` replaced (``None``: removed, or added when absent)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(write_state(content()))) as src, zipfile.ZipFile(buf, "w") as out:
        for info in src.infolist():
            if info.filename != name:
                out.writestr(info.filename, src.read(info))
        if data is not None:
            out.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"nope", "not a zip archive"),
        (edited("../x", b"1"), "not a zip archive"),
        (edited("extra.txt", b"1"), "does not know: 'extra.txt'"),
        (edited("manifest.json", json.dumps({"Format": FORMAT, "FormatVersion": 2}).encode()), "format version 2"),
        (edited("manifest.json", json.dumps({"Format": FORMAT, "FormatVersion": True}).encode()), "format version"),
        (edited("manifest.json", b"{"), "manifest.json is not JSON"),
        (edited(f"code/{SHA}.zip", None), "lacks the code archive"),
        (edited(f"code/{SHA}.zip", b"other bytes"), "does not match its SHA-256 name"),
        (edited("state/functions.json", b"{}"), "is not a JSON array"),
        (edited("state/functions.json", b"[1]"), "function record 1 cannot be read"),
        (edited("state/layers.json", b'{"us-east-1/000000000000/l": {"versions": {}}}'), "next_version"),
        (edited("state/event_source_mappings.json", b'{"u": {"UUID": "v"}}'), "not the mapping of that UUID"),
        (edited("state/code_signing_configs.json", b'{"a": {"config": {}}}'), "not the config of that ARN"),
    ],
)
def test_refused_files_say_why(data: bytes, message: str) -> None:
    with pytest.raises(StateFileError) as caught:
        read_state(data)
    assert message in str(caught.value)


def test_the_expansion_is_bounded() -> None:
    with pytest.raises(StateFileError, match="expands to 1000 bytes or more"):
        read_state(write_state(content()), max_expanded=1000)
