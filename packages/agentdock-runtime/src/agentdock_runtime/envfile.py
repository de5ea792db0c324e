"""Variables handed over in a file instead of the process environment.

A container's environment is part of its configuration: ``docker inspect`` prints it to
anyone with access to the engine, and monitoring tools and support bundles copy it. So the
``docker`` target writes the deployment's variables (secrets included) to a file in the
container, readable by the runtime's user alone, and sets ``AGENTDOCK_ENV_FILE`` to its
path. At start-up the runtime reads it, before anything else, into its own environment
(``${VAR}`` placeholders resolve from there, and the agent's libraries find their keys
there, as they would in the environment). A variable the environment already has wins.

The file is a JSON object of names to string values (any value, newlines included); it
stays where it is, so the runtime reads it again when Docker restarts the container.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

__all__ = ["ENV_FILE_ENV", "EnvFileError", "read_env_file"]

ENV_FILE_ENV = "AGENTDOCK_ENV_FILE"


class EnvFileError(Exception):
    """The file cannot be used; the message names the path and why, never a value."""


def read_env_file(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of the file ``AGENTDOCK_ENV_FILE`` names (empty when it is not set).

    :raises EnvFileError: the file is missing or unreadable, or not a JSON object whose
        keys are variable names and whose values are strings.
    """
    path = environ.get(ENV_FILE_ENV, "").strip()
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise EnvFileError(f"{ENV_FILE_ENV}: cannot read {path}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError):
        # The text may hold a secret: only where it broke, never what was there.
        raise EnvFileError(f"{ENV_FILE_ENV}: {path} is not JSON") from None
    if not isinstance(data, dict):
        raise EnvFileError(f"{ENV_FILE_ENV}: {path} holds no JSON object")
    bad = sorted(str(k) for k, v in data.items() if not isinstance(v, str) or not _is_name(str(k)))
    if bad:
        raise EnvFileError(
            f"{ENV_FILE_ENV}: {path} has entries that are not NAME: string: {', '.join(bad)}"
        )
    return dict(data)


def _is_name(name: str) -> bool:
    return bool(name) and "=" not in name and "\0" not in name
