"""CloudFormation that deploys Lambda functions here: the installer ``Neighbours`` runs when moto
is loaded (its ``on_load``).

moto's CloudFormation parses templates and creates resources in moto's backends; for
``AWS::Lambda::*`` that would be moto's mock Lambda, which nothing here can invoke. The
installer puts this server's models in their place in moto's resource map (``Function``,
``Version``, ``Alias``, ``Permission``, ``Url``, ``LayerVersion``, ``EventSourceMapping``:
``cfn_functions.py``, ``cfn_versions.py``, ``cfn_access.py``, ``cfn_mappings.py``), each bound
to this server's Lambda API over loopback (``lambda_api.py``), and moto's stacks and change
sets by ours (``cfn_stacks.py``: the SAM transform, change-set execution, rollbacks, GetTemplate
stages); ValidateTemplate is answered without cfn-lint (``cfn_validation.py``).

This module imports nothing of moto itself: the app imports it at start, moto is loaded at the
first neighbour request.
"""

from __future__ import annotations

import logging

__all__ = ["install_lambda_resources"]

log = logging.getLogger(__name__)


def install_lambda_resources(endpoint: str) -> None:
    """Make moto's CloudFormation create Lambda resources through the Lambda API at
    ``endpoint`` (this server's own URL). Call from the thread that loads moto, once moto is
    imported; a second call (a second server in the process) rebinds the models to its API, as
    moto's resource map is the process's."""
    from moto.cloudformation import parsing

    # moto's own map is built (and cached) from moto's models before ours exist.
    model_map = parsing.get_model_map()
    parsing.get_name_type_map()

    from locallambda.neighbours import cfn_stacks, cfn_validation
    from locallambda.neighbours.cfn_access import Permission, Url
    from locallambda.neighbours.cfn_functions import Function, LayerVersion
    from locallambda.neighbours.cfn_mappings import EventSourceMapping
    from locallambda.neighbours.cfn_versions import Alias, Version
    from locallambda.neighbours.lambda_api import LoopbackLambda

    api = LoopbackLambda(endpoint)
    for model in (Function, Version, Alias, Permission, Url, LayerVersion, EventSourceMapping):
        # a class attribute, not a subclass per server: stacks are pickled with their resources
        # when persistence is on, and pickle finds classes by their module and name
        model.api = api
        model_map[model.TYPE] = model
    cfn_stacks.install()
    cfn_validation.install()
    log.info("CloudFormation creates Lambda resources through %s", endpoint)
