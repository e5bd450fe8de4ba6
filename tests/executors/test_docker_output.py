"""A container's output flood never holds the server (the docker executor's FIFO, docker-reuse).

The FIFO is read on the event loop. Reading it until it was empty, while cutting lines
quadratically, held the whole server for as long as the container kept writing: a small
invoke of another function waited for the flood to end (and timed out). The flood here writes
one endless line until the test, having had the small function's answer, tells it to stop.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import Server
from tests.executors.test_docker import _docker_server, docker_ready  # noqa: F401 - a fixture
from tests.invoke.conftest import Functions, stop_checked
from tests.invoke.test_output_limits import FLOOD, SMALL, flood_while_small_invoke

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def reuse_server(docker_ready: None) -> Iterator[Server]:  # noqa: F811 - the imported fixture
    server = _docker_server("docker-reuse").start()
    try:
        yield server
    finally:
        stop_checked(server)


@pytest.fixture()
def docker_functions(reuse_server: Server) -> Iterator[Functions]:
    fns = Functions(reuse_server)
    yield fns
    fns.cleanup()


def test_a_small_invoke_answers_while_a_container_floods(docker_functions: Functions) -> None:
    flood = docker_functions.python(FLOOD, runtime="python3.11", timeout=60, memory=256)
    small = docker_functions.python(SMALL, runtime="python3.11")
    docker_functions.invoke_json(small, {})  # warm
    flood_answer, small_answer = flood_while_small_invoke(docker_functions, flood, small)
    assert small_answer == {"small": True}
    assert "FunctionError" not in flood_answer, flood_answer["Payload"]
    result = json.loads(flood_answer["Payload"])
    assert result["stopped"] is True, result  # the flood still ran when the small one answered
