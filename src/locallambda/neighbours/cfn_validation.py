"""ValidateTemplate as CloudFormation answers it, in the place of moto's.

moto answers ValidateTemplate by running cfn-lint, which with sympy and networkx is ~140 MB that
a first start would install for this one call (moto uses cfn-lint nowhere else). CloudFormation
itself checks the template's format and structure here, not the properties of each resource
type; this module does the same (API_ValidateTemplate.html):

- The body is read as JSON first, then as YAML (with CloudFormation's short forms: ``!Ref``,
  ``!GetAtt A.B``, ``!Sub`` ...). When neither reads it, the ValidationError names the format by
  the first character (``{``: JSON) and where it failed: ``Template format error: JSON not
  well-formed. (line 1, column 25)`` (LocalStack's parity snapshot, test_templates.py; the
  column is Jackson's, one past Python's), ``Template format error: YAML not well-formed. (line
  5, column 13)`` (an unknown ``!Tag`` included). YAML aliases are refused.
- Structure, in the words AWS uses (LocalStack's snapshots test_validations, test_stacks,
  test_changesets, test_conditions): ``null`` values, unknown top-level sections, no Resources,
  a resource that is not an object or has no Type, names that are not alphanumeric, parameters
  without Type, outputs without Value, Ref/GetAtt/DependsOn/Sub naming nothing (checked only
  when the template declares no transform: a macro may add what they name).
- The answer: ``Parameters`` (ParameterKey, DefaultValue when there is a Default, NoEcho,
  Description when given, in template order; always present, empty when none), ``Description``,
  ``Capabilities`` with ``CapabilitiesReason`` ("The following resource(s) require capabilities:
  [AWS::IAM::Role]": ``CAPABILITY_NAMED_IAM`` when an IAM resource has a custom name, else
  ``CAPABILITY_IAM``; a nested stack asks for ``CAPABILITY_NAMED_IAM`` and
  ``CAPABILITY_AUTO_EXPAND``, as AWS answered for one), ``DeclaredTransforms``; the last three
  only when there is something to say, as AWS leaves them out.

``TemplateBody`` wins over ``TemplateURL`` when both are given (the API reference); neither is
"Either Template URL or Template Body must be specified."; a URL of no object in the embedded S3
is "TemplateURL must reference a valid S3 object to which you have access.". Imported only once moto is loaded
(``cloudformation.py`` installs it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import yaml
from moto.cloudformation import responses
from moto.cloudformation.exceptions import ValidationError
from moto.core.responses import ActionResult
from moto.s3.exceptions import S3ClientError

__all__ = ["install", "parse_template", "summarize", "validate_template"]

_FORMAT = "Template format error: "
_SECTIONS = frozenset(
    {
        "AWSTemplateFormatVersion",
        "Description",
        "Metadata",
        "Parameters",
        "Rules",
        "Mappings",
        "Conditions",
        "Transform",
        "Resources",
        "Outputs",
        "Hooks",
    }
)
_NAME = re.compile(r"[A-Za-z0-9]+")
_PSEUDO = frozenset(
    {
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)
# The short forms of the intrinsic functions and condition functions (intrinsic-function-reference.html).
_TAGS = frozenset(
    {
        "Ref",
        "Condition",
        "Base64",
        "Cidr",
        "FindInMap",
        "ForEach",
        "GetAtt",
        "GetAZs",
        "ImportValue",
        "Join",
        "Length",
        "Select",
        "Split",
        "Sub",
        "ToJsonString",
        "Transform",
        "And",
        "Equals",
        "If",
        "Not",
        "Or",
        "Contains",
        "EachMemberEquals",
        "EachMemberIn",
        "RefAll",
        "ValueOf",
        "ValueOfAll",
    }
)
# IAM resources and the property that gives each a custom name (control-access-with-iam.html,
# "Acknowledging IAM resources").
_IAM = {
    "AWS::IAM::AccessKey": None,
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Policy": None,
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::UserToGroupAddition": None,
}
_NESTED_STACK = "AWS::CloudFormation::Stack"
_UNREADABLE_URL = "TemplateURL must reference a valid S3 object to which you have access."
_SUB_NAME = re.compile(r"\$\{([^!}][^}]*)\}")


class _AliasFound(Exception):
    pass


class _Loader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML has no type hints here
    """YAML as CloudFormation reads it: the short forms of the functions, no aliases."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise _AliasFound
        return super().compose_node(parent, index)


def _short_form(loader: _Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if suffix not in _TAGS:
        raise yaml.constructor.ConstructorError(
            None, None, f"could not determine a constructor for the tag '!{suffix}'", node.start_mark
        )
    key = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":  # !GetAtt Resource.Attribute (the attribute may hold dots)
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {key: value}


_Loader.add_multi_constructor("!", _short_form)


def parse_template(body: str) -> dict[str, Any]:
    """The template as a mapping: JSON if it reads as JSON, else YAML. ``ValidationError``
    (CloudFormation's words) when it is neither or not a mapping."""
    try:
        parsed: Any = json.loads(body)
    except ValueError as json_error:
        try:
            parsed = yaml.load(body, Loader=_Loader)  # a SafeLoader
        except _AliasFound:
            raise ValidationError(
                message="Template error: YAML aliases are not allowed in CloudFormation templates"
            ) from None
        except yaml.YAMLError as yaml_error:
            if body.lstrip().startswith("{"):
                where = _json_position(json_error)
                raise ValidationError(message=f"{_FORMAT}JSON not well-formed.{where}") from None
            raise ValidationError(message=f"{_FORMAT}YAML not well-formed.{_yaml_position(yaml_error)}") from None
    if not isinstance(parsed, dict):
        raise ValidationError(message=f"{_FORMAT}unsupported structure.")
    return parsed


def _json_position(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        # Jackson's column is one past the character Python's points at
        return f" (line {error.lineno}, column {error.colno + 1})"
    return ""


def _yaml_position(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""


def check_structure(template: dict[str, Any]) -> None:
    """``ValidationError`` for the first structural fault CloudFormation reports."""
    for path in _nulls(template, ""):
        raise ValidationError(message=f"[{path}] 'null' values are not allowed in templates")
    unknown = [key for key in template if key not in _SECTIONS]
    if unknown:
        raise ValidationError(
            message=f"{_FORMAT}Invalid template property or properties [{', '.join(map(str, unknown))}]"
        )
    resources = template.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise ValidationError(message=f"{_FORMAT}At least one Resources member must be defined.")
    parameters = template.get("Parameters") or {}
    if isinstance(parameters, dict):
        for name, parameter in parameters.items():
            if not _NAME.fullmatch(str(name)):
                raise ValidationError(message=f"{_FORMAT}Parameter name {name} is non alphanumeric.")
            if not isinstance(parameter, dict):
                raise ValidationError(message=f"{_FORMAT}Every Parameters member must be an object.")
            if "Type" not in parameter:
                raise ValidationError(message=f"{_FORMAT}Every Parameters object must contain a Type member.")
    for name, resource in resources.items():
        if not _NAME.fullmatch(str(name)):
            raise ValidationError(message=f"{_FORMAT}Resource name {name} is non alphanumeric.")
        if not isinstance(resource, dict):
            raise ValidationError(message=f"{_FORMAT}Any Resources member must be an object.")
        if "Type" not in resource:
            raise ValidationError(
                message=f"{_FORMAT}[/Resources/{name}] Every Resources object must contain a Type member."
            )
    outputs = template.get("Outputs") or {}
    if isinstance(outputs, dict):
        for output in outputs.values():
            if not isinstance(output, dict) or "Value" not in output:
                raise ValidationError(message=f"{_FORMAT}Every Outputs member must contain a Value object")
    if not _transforms(template):
        _check_references(template, resources, parameters if isinstance(parameters, dict) else {})


def _nulls(value: Any, path: str) -> Iterator[str]:
    if value is None:
        yield path or "/"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _nulls(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nulls(item, f"{path}/{index}")


def _check_references(template: dict[str, Any], resources: dict[str, Any], parameters: dict[str, Any]) -> None:
    known = set(resources) | set(parameters) | _PSEUDO
    for block in ("Resources", "Outputs"):
        missing: list[str] = []
        for name in _referenced(template.get(block), block == "Resources"):
            if name not in known and name not in missing:
                missing.append(name)
        if missing:
            raise ValidationError(
                message=f"{_FORMAT}Unresolved resource dependencies [{', '.join(missing)}] in the {block} block of the template"
            )


def _referenced(value: Any, top: bool = False) -> Iterator[str]:
    """The logical names a section refers to: Ref, Fn::GetAtt, Fn::Sub's ``${Name}`` and
    ``${Name.Attribute}`` (not its own variables, not ``${!Literal}``), resources' DependsOn."""
    if isinstance(value, list):
        for item in value:
            yield from _referenced(item)
    elif isinstance(value, dict):
        if top:  # the Resources block: each resource's DependsOn, then its contents
            for resource in value.values():
                if isinstance(resource, dict):
                    depends = resource.get("DependsOn", [])
                    yield from (str(d) for d in (depends if isinstance(depends, list) else [depends]))
                    yield from _referenced({k: v for k, v in resource.items() if k != "DependsOn"})
            return
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" and isinstance(arg, str):
                yield arg
                return
            if key == "Fn::GetAtt":
                target = (
                    arg[0] if isinstance(arg, list) and arg else arg.split(".", 1)[0] if isinstance(arg, str) else None
                )
                if isinstance(target, str):
                    yield target
                    return
            if key == "Fn::Sub":
                text, variables = (
                    (arg[0], arg[1] if len(arg) > 1 else {}) if isinstance(arg, list) and arg else (arg, {})
                )
                if isinstance(text, str):
                    local = set(variables) if isinstance(variables, dict) else set()
                    for found in _SUB_NAME.findall(text):
                        name = found.split(".", 1)[0].strip()
                        if name not in local:
                            yield name
                yield from _referenced(variables)
                return
        for item in value.values():
            yield from _referenced(item)


def _transforms(template: dict[str, Any]) -> list[str]:
    declared = template.get("Transform")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [str(t) for t in declared if isinstance(t, str)]
    return []


def _parameter(key: str, parameter: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"ParameterKey": key}
    if "Default" in parameter:
        entry["DefaultValue"] = _text(parameter["Default"])
    entry["NoEcho"] = _text(parameter.get("NoEcho", False)).lower() == "true"
    if "Description" in parameter:
        entry["Description"] = _text(parameter["Description"])
    return entry


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def _capabilities(resources: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The capabilities the resources need and the resource types that need them."""
    needed: set[str] = set()
    reasons: set[str] = set()
    for resource in resources.values():
        kind = resource.get("Type")
        if not isinstance(kind, str):
            continue
        if kind in _IAM:
            name_property = _IAM[kind]
            properties = resource.get("Properties")
            named = name_property is not None and isinstance(properties, dict) and name_property in properties
            needed.add("CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM")
            reasons.add(kind)
        elif kind == _NESTED_STACK:
            needed.update(("CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"))
            reasons.add(kind)
    if "CAPABILITY_NAMED_IAM" in needed:
        needed.discard("CAPABILITY_IAM")
    order = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")
    return [c for c in order if c in needed], sorted(reasons)


def summarize(template: dict[str, Any]) -> dict[str, Any]:
    """ValidateTemplate's members for a template that passed ``check_structure``."""
    parameters = template.get("Parameters") or {}
    result: dict[str, Any] = {
        "Parameters": [_parameter(str(k), v) for k, v in parameters.items()] if isinstance(parameters, dict) else []
    }
    if "Description" in template:
        result["Description"] = _text(template["Description"])
    capabilities, reasons = _capabilities(template["Resources"])
    if capabilities:
        result["Capabilities"] = capabilities
        result["CapabilitiesReason"] = f"The following resource(s) require capabilities: [{', '.join(reasons)}]"
    transforms = _transforms(template)
    if transforms:
        result["DeclaredTransforms"] = transforms
    return result


def validate_template(self: responses.CloudFormationResponse) -> ActionResult:
    """ValidateTemplate: the body (or the object its URL names) parsed, checked, summarized."""
    body = self._get_param("TemplateBody")
    if not body:
        url = self._get_param("TemplateURL")
        if not url:
            raise ValidationError(message="Either Template URL or Template Body must be specified.")
        try:
            body = self._get_stack_from_s3_url(url)
        except S3ClientError:  # no such bucket or key: CloudFormation's words, not S3's
            raise ValidationError(message=_UNREADABLE_URL) from None
    template = parse_template(body)
    check_structure(template)
    return ActionResult(summarize(template))


def install() -> None:
    """Answer ValidateTemplate here instead of through cfn-lint (once per process is enough;
    again is harmless)."""
    responses.CloudFormationResponse.validate_template = validate_template  # type: ignore[method-assign]
