"""The ``AWS::Serverless-2016-10-31`` transform: SAM templates expanded into plain CloudFormation
before moto's parser sees them, with the translator CloudFormation itself runs
(``aws-sam-translator``).

What AWS does and this keeps (transform-aws-serverless.html, transform-section-structure.html):
- ``Transform`` is a name or a list of names; a template that names the SAM transform is
  processed, any other template is left as it is.
- The translator gets the stack's parameter values and the pseudo parameters ``AWS::Region``,
  ``AWS::AccountId``, ``AWS::Partition``; its map of AWS managed policies (``Policies:
  AWSLambdaBasicExecutionRole``) is IAM's, from the policies moto's IAM knows.
- A template the translator refuses fails with CloudFormation's words: ``Transform
  AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application Specification document.
  Number of errors found: N. <each error>`` (``TransformFailed``).
- The processed template is plain JSON-able data, kept next to the original (GetTemplate's
  ``TemplateStage=Processed``/``Original``).

Imported only once moto is loaded (``cloudformation.py``).
"""

from __future__ import annotations

import copy
import functools
import json
import threading
from typing import Any

__all__ = ["SAM_TRANSFORM", "TransformFailed", "expand", "has_sam_transform"]

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"

# samtranslator keeps the region of its last session in a class attribute (ArnGenerator): one
# translation at a time.
_LOCK = threading.Lock()


class TransformFailed(Exception):
    """The translator refused the template; the message is CloudFormation's."""


def has_sam_transform(template: Any) -> bool:
    if not isinstance(template, dict):
        return False
    declared = template.get("Transform")
    names = declared if isinstance(declared, list) else [declared]
    return SAM_TRANSFORM in names


def expand(template: dict[str, Any], parameters: dict[str, Any], region: str, account_id: str) -> dict[str, Any]:
    """The template with its SAM resources translated (a copy; the template itself is left
    alone). A template without the SAM transform is returned as it is. Raises
    ``TransformFailed``."""
    if not has_sam_transform(template):
        return template
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    partition = _partition(region)
    values: dict[str, Any] = {
        **{str(k): v for k, v in parameters.items()},
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::Partition": partition,
    }
    with _LOCK:
        import boto3

        translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
        try:
            processed = translator.translate(
                copy.deepcopy(template),
                parameter_values=values,
                get_managed_policy_map=functools.partial(managed_policies, partition),
            )
        except InvalidDocumentException as exc:
            details = " ".join(str(cause.message) for cause in exc.causes)
            raise TransformFailed(f"Transform {SAM_TRANSFORM} failed with: {exc.message} {details}".strip()) from None
        except Exception as exc:  # the translator's own bugs surface as CloudFormation shows them
            raise TransformFailed(f"Transform {SAM_TRANSFORM} failed with: {exc}") from None
        finally:
            translator.metrics.publish()  # to its dummy publisher: else it warns when collected
    # samtranslator hands back its own str/dict subclasses: plain data from here on
    plain: dict[str, Any] = json.loads(json.dumps(processed))
    return plain


@functools.cache
def managed_policies(partition: str) -> dict[str, str]:
    """AWS managed policy names → ARNs (``arn:aws:iam::aws:policy/<path><name>``)."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    data: dict[str, dict[str, Any]] = json.loads(aws_managed_policies_data)
    return {name: f"arn:{partition}:iam::aws:policy{doc.get('Path', '/')}{name}" for name, doc in data.items()}


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
