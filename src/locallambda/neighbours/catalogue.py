"""Which AWS service a request is for, and how each service speaks.

The edge serves every service on one port, as LocalStack does, so each request is classified
before it is routed: by its host (``<bucket>.s3.localhost.localstack.cloud``,
``sqs.us-east-1.localhost.localstack.cloud``), by the service in its SigV4 credential scope
(``Credential=AKID/20261202/us-east-1/sqs/aws4_request``, in the Authorization header or a
presigned URL's ``X-Amz-Credential``), by its ``X-Amz-Target`` (JSON protocols), or, for an
unsigned request, by the shape of its path. What cannot be classified is left to the caller
(the Lambda routes first, then S3, as AWS's own default endpoint would).

The protocol is what an error for that service must be written in, so that its client parses
it (a query or rest-xml client given JSON reports "invalid XML received" instead of the error).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping

__all__ = [
    "SERVICES",
    "Service",
    "parse_services_setting",
    "service_of",
]


@dataclasses.dataclass(frozen=True, slots=True)
class Service:
    """One service: its name (LocalStack's, as in ``SERVICES``), the names it signs with, the
    ``X-Amz-Target`` prefixes of its JSON operations, and its error protocol."""

    name: str
    protocol: str  # "query", "rest-xml", "json", "rest-json"
    signing_names: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()


SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        Service("lambda", "rest-json", ("lambda",)),
        Service("s3", "rest-xml", ("s3",)),
        Service("sqs", "query", ("sqs",), ("AmazonSQS.",)),
        Service("sns", "query", ("sns",)),
        Service("dynamodb", "json", ("dynamodb",), ("DynamoDB_",)),
        Service("dynamodbstreams", "json", (), ("DynamoDBStreams_",)),
        Service("kinesis", "json", ("kinesis",), ("Kinesis_",)),
        Service("logs", "json", ("logs",), ("Logs_",)),
        Service("iam", "query", ("iam",)),
        Service("sts", "query", ("sts",)),
        Service("events", "json", ("events", "eventbridge"), ("AWSEvents.",)),
        Service("cloudformation", "query", ("cloudformation",)),
        Service("secretsmanager", "json", ("secretsmanager",), ("secretsmanager.",)),
        Service("ssm", "json", ("ssm",), ("AmazonSSM.",)),
        Service("kms", "json", ("kms",), ("TrentService.",)),
        Service("cloudwatch", "query", ("monitoring",), ("GraniteServiceVersion20100801.",)),
        Service("stepfunctions", "json", ("states",), ("AWSStepFunctions.",)),
        Service("apigateway", "rest-json", ("apigateway",)),
        Service("scheduler", "rest-json", ("scheduler",)),
        Service("firehose", "json", ("firehose",), ("Firehose_",)),
        Service("ses", "query", ("ses", "email")),
        Service("ec2", "query", ("ec2",)),
        Service("ecr", "json", ("ecr",), ("AmazonEC2ContainerRegistry_",)),
        Service("route53", "rest-xml", ("route53",)),
        Service("acm", "json", ("acm",), ("CertificateManager.",)),
        Service("resourcegroupstaggingapi", "json", ("tagging",), ("ResourceGroupsTaggingAPI_",)),
    )
}

_BY_SIGNING_NAME = {signing: s.name for s in SERVICES.values() for signing in s.signing_names}
_TARGET_PREFIXES = sorted(
    ((prefix, s.name) for s in SERVICES.values() for prefix in s.targets), key=lambda p: -len(p[0])
)
# The service of a credential scope: ".../<date>/<region>/<service>/aws4_request" (SigV4) or
# ".../<date>/<service>/aws4_request" (SigV4a, no region).
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/(?:[a-z0-9-]+/)?([a-z0-9-]+)/aws4_request")
_QUERY_SCOPE = re.compile(
    r"(?:^|&)X-Amz-Credential=[^&]*?(?:%2F|/)\d{8}(?:%2F|/)(?:[a-z0-9-]+(?:%2F|/))?([a-z0-9-]+)(?:%2F|/)aws4_request",
    re.IGNORECASE,
)
# <bucket>.s3.<anything>, s3.<anything>, <service>.<region>.localhost.localstack.cloud
_S3_HOST = re.compile(
    r"^(?:(?P<bucket>.+)\.)?s3(?:[.-][a-z0-9-]+)*\.(?:localhost\.localstack\.cloud|amazonaws\.com)(?::\d+)?$"
)
_SERVICE_HOST = re.compile(r"^(?P<service>[a-z0-9-]+)(?:\.[a-z0-9-]+)?\.localhost\.localstack\.cloud(?::\d+)?$")


def service_of(headers: Mapping[str, str], query_string: str) -> str | None:
    """The service named by a request's host, signature or target; ``None`` when it names none
    (an unsigned request without a target: the caller decides by its path)."""
    host = headers.get("host", "").lower()
    if host and not host[0].isdigit() and not host.startswith(("localhost", "[")):
        if _S3_HOST.match(host):
            return "s3"
        m = _SERVICE_HOST.match(host)
        if m is not None and m.group("service") in _BY_SIGNING_NAME:
            return _BY_SIGNING_NAME[m.group("service")]
    auth = headers.get("authorization")
    if auth:
        m = _SCOPE.search(auth)
        if m is not None:
            return _signed(m.group(1), headers)
    elif "X-Amz-Credential=" in query_string:
        m = _QUERY_SCOPE.search(query_string)
        if m is not None:
            return _signed(m.group(1).lower(), headers)
    target = headers.get("x-amz-target")
    if target:
        for prefix, name in _TARGET_PREFIXES:
            if target.startswith(prefix):
                return name
    return None


def _signed(signing_name: str, headers: Mapping[str, str]) -> str:
    # DynamoDB Streams signs as "dynamodb"; only its target tells the two apart.
    if signing_name == "dynamodb" and headers.get("x-amz-target", "").startswith("DynamoDBStreams_"):
        return "dynamodbstreams"
    return _BY_SIGNING_NAME.get(signing_name, signing_name)


def parse_services_setting(value: str | None) -> frozenset[str] | None:
    """LocalStack's ``SERVICES`` (``s3,sqs,lambda``): the services served; ``None`` (unset or
    empty) serves all. Lambda is always served: it is what this server is."""
    if value is None or not value.strip():
        return None
    names = {_BY_SIGNING_NAME.get(n, n) for n in _names(value.split(","))}
    names.add("lambda")
    if "dynamodb" in names:
        names.add("dynamodbstreams")  # LocalStack serves the streams with the tables
    return frozenset(names)


def _names(parts: Iterable[str]) -> Iterable[str]:
    for part in parts:
        name = part.strip().lower()
        if name:
            yield name
