"""Python dependencies of a bundle or an image: a thin layer over uv.

A build needs three things, in this order:

1. the agent's own requirements (:func:`agent_requirements`): ``build.requirements`` of the
   Dockfile, else ``requirements.txt``, else ``[project].dependencies`` of ``pyproject.toml``;
2. AgentDock's own distributions (:func:`agentdock_dists`): wheels built from the workspace
   when AgentDock is installed from a directory, else ``name==version`` pins, with a digest
   that belongs in every artifact's digest and their third-party requirements;
3. the versions the build may take (:func:`constraints_for`): AgentDock's ``uv.lock`` and
   the agent's own lock, so the tested set is what ships;
4. a hash-checked lock of the third-party dependencies for one Python version and platform
   (:func:`compile_lock`), installed with ``--require-hashes`` into a virtual environment or
   a ``--target`` directory (:func:`install_lock`), AgentDock's wheels installed ``--no-deps``
   on their own (:func:`install_agentdock`) so an image can keep them in their own layer.

Every uv line is streamed through ``progress(step, message)``.
"""

from __future__ import annotations

from agentdock_plugins.pydeps.constraints import Constraints, LockSource, constraints_for
from agentdock_plugins.pydeps.dists import (
    AGENTDOCK_DISTS,
    DEPLOY_ONLY_REQUIREMENTS,
    AgentDockDists,
    agentdock_dists,
)
from agentdock_plugins.pydeps.install import create_venv, install_agentdock, install_lock
from agentdock_plugins.pydeps.lock import compile_lock, lock_for, uv_platform
from agentdock_plugins.pydeps.requirements import AgentRequirements, agent_requirements
from agentdock_plugins.pydeps.uvtool import find_uv, run_uv

__all__ = [
    "AGENTDOCK_DISTS",
    "DEPLOY_ONLY_REQUIREMENTS",
    "AgentDockDists",
    "AgentRequirements",
    "Constraints",
    "LockSource",
    "agent_requirements",
    "agentdock_dists",
    "compile_lock",
    "constraints_for",
    "create_venv",
    "find_uv",
    "install_agentdock",
    "install_lock",
    "lock_for",
    "run_uv",
    "uv_platform",
]
