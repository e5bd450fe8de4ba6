"""The runtime catalogue: every runtime AWS knows, which are deprecated, and their images.

``/_aws/lambda/runtimes`` answers from here (``?filter=all|deprecated|supported``), and
CreateFunction validates against it.
"""

from __future__ import annotations

__all__ = [
    "ALL_RUNTIMES",
    "DEPRECATED",
    "IMAGE_TAGS",
    "SUPPORTED_RUNTIMES",
    "VALID_RUNTIMES_TEXT",
    "default_image",
    "family",
    "runtimes_for_filter",
]

# Runtime → tag of the official image public.ecr.aws/lambda/<repo>:<tag>.
IMAGE_TAGS: dict[str, str] = {
    "nodejs24.x": "nodejs:24",
    "nodejs22.x": "nodejs:22",
    "nodejs20.x": "nodejs:20",
    "nodejs18.x": "nodejs:18",
    "nodejs16.x": "nodejs:16",
    "nodejs14.x": "nodejs:14",
    "nodejs12.x": "nodejs:12",
    "python3.14": "python:3.14",
    "python3.13": "python:3.13",
    "python3.12": "python:3.12",
    "python3.11": "python:3.11",
    "python3.10": "python:3.10",
    "python3.9": "python:3.9",
    "python3.8": "python:3.8",
    "python3.7": "python:3.7",
    "java25": "java:25",
    "java21": "java:21",
    "java17": "java:17",
    "java11": "java:11",
    "java8.al2": "java:8.al2",
    "java8": "java:8",
    "dotnet10": "dotnet:10",
    "dotnet8": "dotnet:8",
    "dotnet6": "dotnet:6",
    "dotnetcore3.1": "dotnet:core3.1",
    "go1.x": "go:1",
    "ruby3.4": "ruby:3.4",
    "ruby3.3": "ruby:3.3",
    "ruby3.2": "ruby:3.2",
    "ruby2.7": "ruby:2.7",
    "provided.al2023": "provided:al2023",
    "provided.al2": "provided:al2",
    "provided": "provided:alami",
}

# Deprecated runtime → the runtime AWS recommends instead (creation is refused).
DEPRECATED: dict[str, str] = {
    "java8": "java21",
    "go1.x": "provided.al2023",
    "provided": "provided.al2023",
    "ruby2.7": "ruby3.2",
    "nodejs14.x": "nodejs20.x",
    "python3.7": "python3.12",
    "dotnetcore3.1": "dotnet6",
    "nodejs12.x": "nodejs18.x",
}

ALL_RUNTIMES: tuple[str, ...] = tuple(IMAGE_TAGS)
SUPPORTED_RUNTIMES: tuple[str, ...] = tuple(r for r in IMAGE_TAGS if r not in DEPRECATED)

# AWS prints the valid set in this order in its InvalidParameterValueException for 'runtime'.
VALID_RUNTIMES_TEXT = (
    "[nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, "
    "java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, "
    "java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2]"
)


def family(runtime: str) -> str:
    """``python``, ``nodejs``, ``java``, ``provided``, ``ruby``, ``dotnet`` or ``go``."""
    for prefix in ("python", "nodejs", "java", "provided", "ruby", "dotnet", "go"):
        if runtime.startswith(prefix):
            return prefix
    return runtime


def runtimes_for_filter(filters: list[str]) -> list[str]:
    """LocalStack's ``/_aws/lambda/runtimes`` semantics: no filter (or ``supported``) → supported."""
    chosen: set[str] = set()
    if "all" in filters:
        chosen.update(ALL_RUNTIMES)
    if "deprecated" in filters:
        chosen.update(DEPRECATED)
    if "supported" in filters or not chosen:
        chosen.update(SUPPORTED_RUNTIMES)
    return [r for r in ALL_RUNTIMES if r in chosen]


def default_image(runtime: str) -> str:
    return f"public.ecr.aws/lambda/{IMAGE_TAGS[runtime]}"
