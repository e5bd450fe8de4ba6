"""The docker executor (``LAMBDA_EXECUTOR=docker`` and ``docker-reuse``; every image function).

``executor.py`` holds the executor and its contract (which containers, their lifetime); the
other modules are its parts, each named after what it is: ``daemon.py``, ``images.py``,
``config.py``, ``copies.py``, ``flags.py``, ``output.py``, ``container.py``, ``cleanup.py``.
"""

from locallambda.executors.docker.cleanup import LABEL_SERVER
from locallambda.executors.docker.container import DockerContainer
from locallambda.executors.docker.executor import DockerExecutor
from locallambda.executors.docker.flags import DockerFlags, parse_docker_flags

__all__ = ["LABEL_SERVER", "DockerContainer", "DockerExecutor", "DockerFlags", "parse_docker_flags"]
