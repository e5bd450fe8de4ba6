"""The sandbox executor (``LAMBDA_EXECUTOR=sandbox``): functions run inside bubblewrap.

``executor.py`` holds the executor and its contract (what a function sees, its user, its
processes, its memory); the other modules are its parts, each named after what it is.
"""

from locallambda.executors.sandbox.executor import SandboxExecutor
from locallambda.executors.sandbox.process import SandboxProcess

__all__ = ["SandboxExecutor", "SandboxProcess"]
