"""The neighbour tests use the invocation tests' servers and function factories."""

from tests.invoke.conftest import client, functions, spawn_server, srv

__all__ = ["client", "functions", "spawn_server", "srv"]
