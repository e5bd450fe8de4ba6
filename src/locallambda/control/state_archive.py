"""The state file of ``state export``/``state import`` (issue 12): the whole Lambda state as one zip.

Like LocalStack's Cloud Pods, but only for Lambda's own state and in a documented format::

    manifest.json                       {"Format": "locallambda-state", "FormatVersion": 1,
                                         "ServerVersion", "Created", "Accounts", "Regions", "Counts"}
    state/functions.json                [function record, ...]   (store/functions.py's documents:
                                         $LATEST and every version, aliases, policy, tags,
                                         concurrency, URL configs, event invoke configs, ...)
    state/layers.json                   {"<region>/<account>/<name>": layer document}
    state/event_source_mappings.json    {"<uuid>": mapping document}
    state/code_signing_configs.json     {"<arn>": code signing config document}
    code/<sha256 hex>.zip               each code archive a function version or layer version
                                        references, once (hot-reloaded and image code have none)

A state file is untrusted input: ``read_state`` checks the archive with the code archives' own
checks (``store/archive.py``: names that escape, compression methods, declared and real sizes
bounded by ``MAX_EXPANDED``, CRCs), accepts only the entries above, refuses a manifest of another
format or version, every record the store would refuse at load, a code archive whose bytes do not
hash to its name or that a record references but the file lacks. Everything is checked before
anything is applied; what is wrong raises ``StateFileError`` with a message for the user.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import zipfile
from typing import Any

from locallambda.control.event_source_rules import SourceKind
from locallambda.errors import InvalidParameterValueError
from locallambda.model.refs import parse_layer_version_arn
from locallambda.store.archive import check_zip
from locallambda.store.functions import FunctionRecord

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_EXPANDED",
    "StateContent",
    "StateFileError",
    "read_state",
    "write_state",
]

FORMAT = "locallambda-state"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FUNCTIONS = "state/functions.json"
LAYERS = "state/layers.json"
MAPPINGS = "state/event_source_mappings.json"
CODE_SIGNING = "state/code_signing_configs.json"
_DOCUMENTS = (MANIFEST, FUNCTIONS, LAYERS, MAPPINGS, CODE_SIGNING)
_BLOB = re.compile(r"code/([0-9a-f]{64})\.zip")
_SHA = re.compile(r"[0-9a-f]{64}")
# The bytes a state file may expand to (its entries' sizes summed): four times the largest
# request body the edge reads, since records compress well and code archives hardly at all.
MAX_EXPANDED = 512 * 1024 * 1024
_NAME = re.compile(r"[a-zA-Z0-9-_]{1,64}")
_LAYER_NAME = re.compile(r"[a-zA-Z0-9-_]{1,140}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_ACCOUNT = re.compile(r"\d{12}")
_KINDS = frozenset(kind.value for kind in SourceKind)


class StateFileError(ValueError):
    """A state file this server refuses; the message says why (shown to the user as is)."""


@dataclasses.dataclass(slots=True)
class StateContent:
    """What a state file holds, checked: records as the store keeps them, and code archives."""

    functions: list[FunctionRecord]
    layers: dict[str, dict[str, Any]]
    mappings: dict[str, dict[str, Any]]
    code_signing: dict[str, dict[str, Any]]
    blobs: dict[str, bytes]  # sha256 hex -> the archive (only those referenced)
    manifest: dict[str, Any] = dataclasses.field(default_factory=dict)

    def referenced(self) -> set[str]:
        """The digests of the code archives the records reference."""
        shas = {
            version.code_sha256_hex
            for record in self.functions
            for version in (record.latest, *record.versions.values())
            if version.code_sha256_hex is not None and version.image_uri is None
        }
        shas |= {entry["sha_hex"] for doc in self.layers.values() for entry in doc["versions"].values()}
        return shas

    def hot_reload_paths(self) -> list[str]:
        """The host directories hot-reloaded versions name."""
        return sorted(
            {
                str(version.config["_HotReloadPath"])
                for record in self.functions
                for version in (record.latest, *record.versions.values())
                if version.config.get("_HotReloadPath")
            }
        )

    def counts(self) -> dict[str, int]:
        return {
            "Functions": len(self.functions),
            "Layers": len(self.layers),
            "EventSourceMappings": len(self.mappings),
            "CodeSigningConfigs": len(self.code_signing),
        }


# -- writing ------------------------------------------------------------------------------------


def write_state(content: StateContent) -> bytes:
    """The state file of ``content`` (its ``manifest`` as given). Blocking: compresses."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        documents: dict[str, Any] = {
            MANIFEST: content.manifest,
            FUNCTIONS: [record.to_doc() for record in content.functions],
            LAYERS: content.layers,
            MAPPINGS: content.mappings,
            CODE_SIGNING: content.code_signing,
        }
        for name, doc in documents.items():
            zf.writestr(name, json.dumps(doc, indent=1, sort_keys=True))
        for sha, data in sorted(content.blobs.items()):
            zf.writestr(f"code/{sha}.zip", data, compress_type=zipfile.ZIP_STORED)  # zips already
    return buf.getvalue()


# -- reading ------------------------------------------------------------------------------------


def read_state(data: bytes, *, max_expanded: int = MAX_EXPANDED) -> StateContent:
    """Check a state file entirely and return what it holds. Blocking (reads every entry).

    Raises ``StateFileError``: not a zip, an entry that escapes or is a link, an unknown entry,
    expansion to ``max_expanded`` bytes or more, a manifest of another format or version, a
    record the store would refuse, a missing or corrupt code archive.
    """
    try:
        check_zip(data, max_expanded)
    except InvalidParameterValueError as exc:
        if exc.message.startswith("Unzipped size"):
            raise StateFileError(f"The state file expands to {max_expanded} bytes or more; refused.") from None
        raise StateFileError(
            "The state file is not a zip archive this server can read (corrupt, an entry whose name escapes "
            "its directory, or an unsupported compression method)."
        ) from None
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        entries: dict[str, bytes] = {}
        blobs: dict[str, bytes] = {}
        for info in zf.infolist():
            if info.is_dir():
                continue
            if info.create_system == 3 and (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise StateFileError(f"The state file's entry {info.filename!r} is a symbolic link; refused.")
            name = info.filename
            blob = _BLOB.fullmatch(name)
            if name not in _DOCUMENTS and blob is None:
                raise StateFileError(f"The state file has an entry this format does not know: {name!r}.")
            if name in entries or (blob is not None and blob.group(1) in blobs):
                raise StateFileError(f"The state file has the entry {name!r} twice.")
            raw = zf.read(info)  # sizes bounded and CRCs checked by check_zip
            if blob is not None:
                sha = blob.group(1)
                if hashlib.sha256(raw).hexdigest() != sha:
                    raise StateFileError(f"The code archive {name} does not match its SHA-256 name.")
                blobs[sha] = raw
            else:
                entries[name] = raw
    manifest = _manifest(entries)
    content = StateContent(
        functions=_functions(_document(entries, FUNCTIONS, list)),
        layers=_layers(_document(entries, LAYERS, dict)),
        mappings=_mappings(_document(entries, MAPPINGS, dict)),
        code_signing=_code_signing(_document(entries, CODE_SIGNING, dict)),
        blobs={},
        manifest=manifest,
    )
    needed = content.referenced()
    missing = sorted(needed - blobs.keys())
    if missing:
        raise StateFileError(f"The state file lacks the code archive code/{missing[0]}.zip that its records reference.")
    content.blobs = {sha: blobs[sha] for sha in needed}
    return content


def _json(entries: dict[str, bytes], name: str) -> Any:
    if name not in entries:
        raise StateFileError(f"The state file has no {name}.")
    try:
        return json.loads(entries[name])
    except (ValueError, RecursionError):
        raise StateFileError(f"The state file's {name} is not JSON.") from None


def _document(entries: dict[str, bytes], name: str, kind: type) -> Any:
    doc = _json(entries, name)
    if not isinstance(doc, kind):
        raise StateFileError(f"The state file's {name} is not a JSON {'array' if kind is list else 'object'}.")
    return doc


def _manifest(entries: dict[str, bytes]) -> dict[str, Any]:
    manifest = _json(entries, MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("Format") != FORMAT:
        raise StateFileError(f"The state file's manifest.json does not describe a {FORMAT} file.")
    version = manifest.get("FormatVersion")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise StateFileError(
            f"The state file has format version {version!r}; this server reads version {FORMAT_VERSION}."
        )
    return manifest


def _functions(docs: list[Any]) -> list[FunctionRecord]:
    records: dict[str, FunctionRecord] = {}
    for i, doc in enumerate(docs):
        where = f"function record {i + 1}"
        try:
            if not isinstance(doc, dict):
                raise TypeError("it is not an object")
            record = FunctionRecord.from_doc(doc)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            reason = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
            raise StateFileError(f"The state file's {where} cannot be read: {reason}.") from None
        _check_identity(where, record.region, record.account_id, record.name)
        arn = f"arn:aws:lambda:{record.region}:{record.account_id}:function:{record.name}"
        for version in (record.latest, *record.versions.values()):
            if not str(version.config["FunctionArn"]).startswith(arn):
                raise StateFileError(f"The state file's {where} ({record.name}) has a version of another function.")
            sha = version.code_sha256_hex
            if sha is not None and version.image_uri is None and not _SHA.fullmatch(sha):
                raise StateFileError(f"The state file's {where} ({record.name}) names code that is not a SHA-256.")
        if record.key in records:
            raise StateFileError(f"The state file holds the function {record.key} twice.")
        records[record.key] = record
    return list(records.values())


def _check_identity(where: str, region: Any, account: Any, name: Any, pattern: re.Pattern[str] = _NAME) -> None:
    if not (isinstance(region, str) and _REGION.fullmatch(region)):
        raise StateFileError(f"The state file's {where} has no valid region.")
    if not (isinstance(account, str) and _ACCOUNT.fullmatch(account)):
        raise StateFileError(f"The state file's {where} has no valid account id.")
    if not (isinstance(name, str) and pattern.fullmatch(name)):
        raise StateFileError(f"The state file's {where} has no valid name.")


def _layers(docs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    for key, doc in docs.items():
        where = f"layer {key!r}"
        region, _, rest = key.partition("/")
        account, _, name = rest.partition("/")
        _check_identity(where, region, account, name, _LAYER_NAME)
        if not isinstance(doc, dict) or not isinstance(doc.get("versions"), dict):
            raise StateFileError(f"The state file's {where} has no versions.")
        number = doc.get("next_version")
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise StateFileError(f"The state file's {where} has no valid next_version.")
        for version, entry in doc["versions"].items():
            config = entry.get("config") if isinstance(entry, dict) else None
            if not isinstance(config, dict):
                raise StateFileError(f"The state file's {where} has a version {version!r} without configuration.")
            arn = config.get("LayerVersionArn")
            parsed = parse_layer_version_arn(arn) if isinstance(arn, str) else None
            if parsed is None or parsed[0].key != key or parsed[1] != version or str(config.get("Version")) != version:
                raise StateFileError(f"The state file's {where} has a version {version!r} of another layer.")
            content = config.get("Content")
            if not isinstance(content, dict) or not isinstance(content.get("CodeSize"), int):
                raise StateFileError(f"The state file's {where} version {version} has no Content.CodeSize.")
            if not (isinstance(entry.get("sha_hex"), str) and _SHA.fullmatch(entry["sha_hex"])):
                raise StateFileError(f"The state file's {where} version {version} names no code archive.")
    return docs


def _mappings(docs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    for key, doc in docs.items():
        where = f"event source mapping {key!r}"
        if not isinstance(doc, dict) or doc.get("UUID") != key:
            raise StateFileError(f"The state file's {where} is not the mapping of that UUID.")
        if doc.get("_Kind") not in _KINDS:
            raise StateFileError(f"The state file's {where} has an unknown source kind.")
        for member, kind in (
            ("_Region", str),
            ("_Account", str),
            ("FunctionArn", str),
            ("State", str),
            ("_Tags", dict),
            ("LastModified", (int, float)),
        ):
            if not isinstance(doc.get(member), kind):
                raise StateFileError(f"The state file's {where} has no valid {member}.")
    return docs


def _code_signing(docs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    for key, doc in docs.items():
        config = doc.get("config") if isinstance(doc, dict) else None
        if not isinstance(config, dict) or config.get("CodeSigningConfigArn") != key:
            raise StateFileError(f"The state file's code signing config {key!r} is not the config of that ARN.")
        if not isinstance(doc.get("tags", {}), dict):
            raise StateFileError(f"The state file's code signing config {key!r} has tags that are not an object.")
    return docs
