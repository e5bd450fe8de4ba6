"""moto's stacks and change sets, made to deploy as CloudFormation does for the SAM CLI and
``aws cloudformation deploy``.

What moto's own classes lack, and these subclasses (installed in place of moto's by
``install``) add:

- Transforms: a template with ``Transform: AWS::Serverless-2016-10-31`` is expanded
  (``sam.py``) before its resources are parsed, for CreateStack, UpdateStack and CreateChangeSet.
  The stack keeps the template as submitted: GetTemplate answers ``TemplateStage=Original`` with
  it and ``Processed`` (the default) with the expansion, as JSON; a template without transforms
  is the same in both stages, and ``StagesAvailable`` is ``[Original, Processed]``
  (API_GetTemplate.html). A refused SAM template fails CreateStack with a ValidationError and
  leaves a change set ``FAILED``, with the transform's message as its ``StatusReason``.
- Change sets that create a stack: executing one now gives the stack its template, parameters
  and Outputs (moto left it with the empty template of the review stage, so DescribeStacks
  showed no Outputs).
- Failures: a resource that fails rolls the operation back as CloudFormation does
  (using-cfn-rollback-triggers.html, troubleshooting.html): the resource's event is
  ``CREATE_FAILED``/``UPDATE_FAILED`` with the handler's message; a creation deletes what it
  made and ends ``ROLLBACK_COMPLETE`` ("The following resource(s) failed to create: [X].
  Rollback requested by user."); an update goes back to the previous template and ends
  ``UPDATE_ROLLBACK_COMPLETE`` (``..._FAILED`` when going back fails too). moto instead
  answered the call with the error and left the stack ``CREATE_IN_PROGRESS``.

Imported only once moto is loaded (``cloudformation.py``).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import urllib.parse
from typing import Any, cast

from moto.cloudformation import models, parsing, responses
from moto.cloudformation.exceptions import CloudFormationError, ValidationError
from moto.cloudformation.utils import get_stack_from_s3_url as _moto_template_from_url
from moto.core.responses import ActionResult

from locallambda.neighbours import sam
from locallambda.neighbours.lambda_api import ResourceFailed

__all__ = ["install"]

log = logging.getLogger(__name__)

_STAGES = ["Original", "Processed"]
# A stack in these states has no resources left to show, and no Outputs: moto's resource map is
# lazy, and reading either would create the resources that were rolled back.
_WITHOUT_RESOURCES = frozenset({"ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "REVIEW_IN_PROGRESS"})


class InvalidChangeSetStatus(CloudFormationError):
    """ExecuteChangeSet of a change set that cannot run (API_ExecuteChangeSet.html, Errors)."""

    code = "InvalidChangeSetStatus"


def _region_of(stack_id: str) -> str:
    # arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>
    parts = stack_id.split(":")
    return parts[3] if len(parts) > 3 else "us-east-1"


def _parse(template: Any) -> Any:
    """moto's YAML-then-JSON parse; a template neither can read is CloudFormation's
    ValidationError ("Template format error: ... not well-formed"), not an internal error."""
    try:
        return models.Stack.parse_template(template)
    except Exception:
        kind = "JSON" if isinstance(template, str) and template.lstrip().startswith("{") else "YAML"
        raise ValidationError(message=f"Template format error: {kind} not well-formed.") from None


def _expand(raw: Any, parameters: dict[str, Any] | None, region: str, account_id: str) -> Any:
    if not sam.has_sam_transform(raw):
        return raw
    return sam.expand(raw, dict(parameters or {}), region, account_id)


class Stack(models.Stack):
    def __init__(
        self,
        stack_id: str,
        name: str,
        template: str | dict[str, Any],
        parameters: dict[str, str],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> None:
        # moto's constructor parses the template before it keeps the parameters and the region;
        # the transform needs both.
        self.parameters = parameters
        self.region_name = region_name
        self.account_id = account_id
        self.status_reason: str | None = None
        super().__init__(stack_id, name, template, parameters, account_id, region_name, **kwargs)

    def _parse_template(self) -> None:
        raw = _parse(self.template)
        try:
            self.template_dict = _expand(raw, self.parameters, self.region_name, self.account_id)
        except sam.TransformFailed as exc:
            raise ValidationError(message=str(exc)) from None

    def has_template(self, other_template: str) -> bool:
        return bool(_parse(self.template) == _parse(other_template))

    def processed_template(self) -> Any:
        """The template as deployed: the expansion (as JSON) when it had a transform."""
        if isinstance(self.template, str) and sam.has_sam_transform(_parse(self.template)):
            return json.dumps(self.template_dict)
        return self.template

    @property
    def stack_resources(self) -> Any:
        return [] if self.status in _WITHOUT_RESOURCES else super().stack_resources

    @property
    def outputs(self) -> list[dict[str, Any]] | None:
        return None if self.status in _WITHOUT_RESOURCES else super().outputs

    @property
    def exports(self) -> list[Any]:
        return [] if self.status in _WITHOUT_RESOURCES else super().exports

    def create_resources(self) -> None:
        try:
            super().create_resources()
        except Exception as exc:
            roll_back_creation(self, exc)

    def update(
        self,
        template: str,
        role_arn: str | None = None,
        parameters: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        previous = (self.template, self.template_dict, dict(self.parameters or {}))
        try:
            super().update(template, role_arn, parameters, tags)
        except ValidationError:
            raise
        except Exception as exc:
            roll_back_update(self, exc, previous)


class ChangeSet(models.ChangeSet):
    """A change set whose template is expanded; ``FAILED`` when the transform refuses it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.transform_failure: str | None = None
        self._status: str | None = None
        self._execution_status: str | None = None
        self._status_reason: str | None = None
        super().__init__(*args, **kwargs)

    def _parse_template(self) -> None:
        self.template_dict = _parse(self.template)
        try:
            self.template_dict = _expand(
                self.template_dict, self.parameters, _region_of(self.stack.stack_id), self.stack.account_id
            )
        except sam.TransformFailed as exc:
            self.transform_failure = str(exc)
            self.template_dict = dict(self.stack.template_dict or {"Resources": {}})

    # moto's backend sets these right after construction; a failed transform overrides them
    @property
    def status(self) -> str | None:
        return "FAILED" if self.transform_failure else self._status

    @status.setter
    def status(self, value: str | None) -> None:
        self._status = value

    @property
    def execution_status(self) -> str | None:
        return "UNAVAILABLE" if self.transform_failure else self._execution_status

    @execution_status.setter
    def execution_status(self, value: str | None) -> None:
        self._execution_status = value

    @property
    def status_reason(self) -> str | None:
        return self.transform_failure or self._status_reason

    @status_reason.setter
    def status_reason(self, value: str | None) -> None:
        self._status_reason = value

    def apply(self) -> None:
        super().apply()
        stack = self.stack
        stack.template = self.template
        stack.template_dict = self.template_dict
        if self.parameters:
            stack.parameters = self.parameters
        stack.description = self.template_dict.get("Description")
        stack.output_map = stack._create_output_map()


def execute_change_set(
    backend: models.CloudFormationBackend, change_set_name: str, stack_name: str | None = None
) -> None:
    """moto's ExecuteChangeSet, with the stack completed (template, Outputs) and failures
    rolled back."""
    change_set = _change_set(backend, change_set_name)
    if change_set.status != "CREATE_COMPLETE" or change_set.execution_status != "AVAILABLE":
        raise InvalidChangeSetStatus(
            f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current status of [{change_set.status}]"
        )
    # every stack is one of ours: they are made only after ``install``
    stack = cast(Stack, backend.stacks[change_set.stack_id])
    creating = change_set.change_set_type == "CREATE"
    stack._add_stack_event(
        "CREATE_IN_PROGRESS" if creating else "UPDATE_IN_PROGRESS", resource_status_reason="User Initiated"
    )
    previous = (stack.template, stack.template_dict, dict(stack.parameters or {}))
    try:
        change_set.apply()
    except Exception as exc:
        change_set.execution_status = "EXECUTE_FAILED"
        if creating:
            roll_back_creation(stack, exc)
        else:
            roll_back_update(stack, exc, previous)
        return
    status = f"{change_set.change_set_type}_COMPLETE"
    stack._add_stack_event(status)
    change_set.execution_status = "EXECUTE_COMPLETE"
    stack.status = status


def get_template(self: responses.CloudFormationResponse) -> ActionResult:
    """GetTemplate with ``TemplateStage`` and ``ChangeSetName``."""
    backend = self.cloudformation_backend
    stage = self._get_param("TemplateStage") or "Processed"
    change_set_name = self._get_param("ChangeSetName")
    if change_set_name:
        change_set = _change_set(backend, change_set_name)
        if stage == "Processed" and sam.has_sam_transform(_parsed(change_set.template)):
            body: Any = json.dumps(change_set.template_dict)
        else:
            body = change_set.template
        return ActionResult({"TemplateBody": body, "StagesAvailable": _STAGES})
    stack = backend.get_stack(self._get_param("StackName"))
    body = stack.processed_template() if stage == "Processed" and isinstance(stack, Stack) else stack.template
    return ActionResult({"TemplateBody": body, "StagesAvailable": _STAGES})


_validate_different_update = responses.CloudFormationResponse._validate_different_update


def validate_different_update(
    self: responses.CloudFormationResponse, incoming_params: Any, stack_body: str, old_stack: models.Stack
) -> None:
    """UpdateStack refuses an update without changes ("No updates are to be performed.");
    CreateChangeSet does not: its change set ends FAILED, "The submitted information didn't
    contain changes" (moto's backend words it), which the SAM CLI and ``aws cloudformation
    deploy`` report as "No changes to deploy"."""
    if self._get_action() != "CreateChangeSet":
        _validate_different_update(self, incoming_params, stack_body, old_stack)


_create_change_set = responses.CloudFormationResponse.create_change_set


def create_change_set(self: responses.CloudFormationResponse) -> ActionResult:
    """CreateChangeSet whose ``ChangeSetType`` defaults to ``UPDATE`` (API_CreateChangeSet.html:
    "By default, CloudFormation specifies UPDATE"); moto's default made a second stack of the
    same name."""
    if not self._get_param("ChangeSetType"):
        if self.automated_parameter_parsing:
            self.params["ChangeSetType"] = "UPDATE"
        else:
            self.querystring["ChangeSetType"] = ["UPDATE"]
    return _create_change_set(self)


def _change_set(backend: models.CloudFormationBackend, name: str) -> models.ChangeSet:
    found = backend.describe_change_set(name)
    if found is None:  # moto raises for an unknown name; typed as optional
        raise ValidationError(name)
    return found


def _parsed(template: Any) -> Any:
    return _parse(template) if isinstance(template, str) else template


def template_from_url(template_url: str, account_id: str, partition: str) -> str:
    """The template a ``TemplateURL`` names, from the embedded S3. Besides AWS's forms
    (``https://<bucket>.s3.amazonaws.com/<key>``, ``https://s3.<region>.amazonaws.com/<bucket>/<key>``)
    this server's own URLs are path style, and ``<bucket>.s3.localhost.localstack.cloud``
    names the bucket, as on LocalStack: the SAM CLI uploads the template and passes its URL at
    the endpoint it was given (``http://127.0.0.1:4566/<bucket>/<key>``)."""
    from moto.s3.models import s3_backends

    parts = urllib.parse.urlsplit(template_url)
    host = (parts.hostname or "").lower()
    path = urllib.parse.unquote(parts.path.lstrip("/"))
    if host.endswith(".s3.localhost.localstack.cloud"):
        bucket, key = host.removesuffix(".s3.localhost.localstack.cloud"), path
    elif _is_path_style(host):
        bucket, _, key = path.partition("/")
    elif ".s3" in host and host.endswith(".amazonaws.com"):
        bucket, key = host.split(".s3", 1)[0], path
    else:
        return str(_moto_template_from_url(template_url, account_id=account_id, partition=partition))
    query = urllib.parse.parse_qs(parts.query)
    version = query.get("versionId", [None])[0]
    found = s3_backends[account_id][partition].get_object(bucket, key, version_id=version)
    if found is None:
        raise ValidationError(message="TemplateURL must reference a valid S3 object to which you have access.")
    return bytes(found.value).decode("utf-8")


def _is_path_style(host: str) -> bool:
    if host in ("localhost", "localhost.localstack.cloud", "s3.localhost.localstack.cloud"):
        return True
    if host.startswith("s3") and host.endswith(".amazonaws.com"):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _recording(parse: Any, action: str) -> Any:
    """moto's ``parse_and_create_resource``/``parse_and_update_resource``, recording the
    resource's events (``CREATE_IN_PROGRESS``, ``CREATE_COMPLETE``; ``UPDATE_...``) as
    DescribeStackEvents lists them, and naming the resource a failure was for (the innermost,
    when creating one resource creates those it refers to)."""

    def recorded(logical_id: str, resource_json: dict[str, Any], resources_map: Any, *args: Any, **kw: Any) -> Any:
        resource_type = str(resource_json.get("Type", ""))
        stack = _stack_of(resources_map)
        try:
            resource = parse(logical_id, resource_json, resources_map, *args, **kw)
        except Exception as exc:
            if not getattr(exc, "logical_id", ""):
                exc.logical_id = logical_id  # type: ignore[attr-defined]
                exc.resource_type = resource_type  # type: ignore[attr-defined]
            if not getattr(exc, "recorded", False):
                exc.recorded = True  # type: ignore[attr-defined]
                _event(stack, exc.logical_id, "", exc.resource_type, f"{action}_IN_PROGRESS")  # type: ignore[attr-defined]
            raise
        if resource is not None:
            physical = str(getattr(resource, "physical_resource_id", "") or "")
            _event(stack, logical_id, "", resource_type, f"{action}_IN_PROGRESS")
            _event(stack, logical_id, physical, resource_type, f"{action}_COMPLETE")
        return resource

    return recorded


_delete_resource = parsing.ResourceMap._delete_resource


def delete_resource(self: parsing.ResourceMap, parsed_resource: Any, resource_json: dict[str, Any]) -> None:
    """moto's deletion of one resource, with its ``DELETE_IN_PROGRESS``/``DELETE_COMPLETE`` events."""
    stack = _stack_of(self)
    logical_id = str(getattr(parsed_resource, "logical_resource_id", "") or "")
    physical = str(getattr(parsed_resource, "physical_resource_id", "") or "")
    resource_type = str(resource_json.get("Type", ""))
    _event(stack, logical_id, physical, resource_type, "DELETE_IN_PROGRESS")
    _delete_resource(self, parsed_resource, resource_json)
    _event(stack, logical_id, physical, resource_type, "DELETE_COMPLETE")


def _stack_of(resources_map: Any) -> models.Stack | None:
    account, region = getattr(resources_map, "_account_id", None), getattr(resources_map, "_region_name", None)
    if account is None or region is None:
        return None
    stacks: dict[str, models.Stack] = models.cloudformation_backends[account][region].stacks
    return stacks.get(getattr(resources_map, "stack_id", ""))


def _event(
    stack: models.Stack | None,
    logical_id: str,
    physical_id: str,
    resource_type: str,
    status: str,
    reason: str | None = None,
) -> None:
    if stack is None:
        return
    stack.events.append(
        models.Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=logical_id,
            physical_resource_id=physical_id,
            resource_type=resource_type,
            resource_status=status,
            resource_status_reason=reason,
            resource_properties=None,
        )
    )


# -- rollbacks ------------------------------------------------------------------------------


def _resource_event(stack: Stack, exc: Exception, status: str) -> str:
    """Record the failed resource's event; its logical ID."""
    logical_id = getattr(exc, "logical_id", "") or ""
    resource_type = getattr(exc, "resource_type", "") or ""
    # moto's own models fail with whatever they raise (a KeyError for a property they need)
    reason = exc.reason if isinstance(exc, ResourceFailed) else f"{type(exc).__name__}: {exc}"
    _event(stack, logical_id, "", resource_type, status, reason)
    log.info("stack %s: %s %s (%s): %s", stack.name, status, logical_id, resource_type, reason)
    return logical_id


def roll_back_creation(stack: Stack, exc: Exception) -> None:
    failed = _resource_event(stack, exc, "CREATE_FAILED")
    reason = f"The following resource(s) failed to create: [{failed}]. Rollback requested by user."
    stack.status = "ROLLBACK_IN_PROGRESS"
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
    try:
        stack.resource_map.delete()
    except Exception as cleanup:
        log.warning("stack %s: rollback could not delete every resource: %s", stack.name, cleanup)
        stack.status = "ROLLBACK_FAILED"
        stack._add_stack_event("ROLLBACK_FAILED", resource_status_reason=str(cleanup))
        stack.status_reason = reason
        return
    stack.status = "ROLLBACK_COMPLETE"
    stack.status_reason = reason
    stack._add_stack_event("ROLLBACK_COMPLETE")


def roll_back_update(stack: Stack, exc: Exception, previous: tuple[Any, Any, dict[str, Any]]) -> None:
    failed = _resource_event(stack, exc, "UPDATE_FAILED")
    reason = f"The following resource(s) failed to update: [{failed}]."
    stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
    stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
    template, template_dict, parameters = previous
    try:
        stack.resource_map.update(template_dict, parameters)
    except Exception as again:
        log.warning("stack %s: update rollback failed: %s", stack.name, again)
        stack.status = "UPDATE_ROLLBACK_FAILED"
        stack.status_reason = str(again)
        stack._add_stack_event("UPDATE_ROLLBACK_FAILED", resource_status_reason=str(again))
        return
    stack.template, stack.template_dict, stack.parameters = template, template_dict, parameters
    stack.output_map = stack._create_output_map()
    stack.status = "UPDATE_ROLLBACK_COMPLETE"
    stack.status_reason = reason
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")


def install() -> None:
    """Put these classes in the place of moto's (once per process)."""
    if models.Stack is Stack:
        return
    models.Stack = Stack  # type: ignore[misc, assignment]
    models.ChangeSet = ChangeSet  # type: ignore[misc]
    models.CloudFormationBackend.execute_change_set = execute_change_set  # type: ignore[method-assign, assignment]
    responses.CloudFormationResponse.get_template = get_template  # type: ignore[method-assign]
    responses.CloudFormationResponse.create_change_set = create_change_set  # type: ignore[method-assign]
    responses.CloudFormationResponse._validate_different_update = validate_different_update  # type: ignore[method-assign]
    parsing.parse_and_create_resource = _recording(parsing.parse_and_create_resource, "CREATE")
    parsing.parse_and_update_resource = _recording(parsing.parse_and_update_resource, "UPDATE")
    parsing.ResourceMap._delete_resource = delete_resource  # type: ignore[method-assign]
    # CreateStack, UpdateStack, CreateChangeSet, GetTemplateSummary and nested stacks resolve
    # their TemplateURL through the name each module imported
    responses.get_stack_from_s3_url = template_from_url  # type: ignore[attr-defined]
    models.get_stack_from_s3_url = template_from_url  # type: ignore[attr-defined]
