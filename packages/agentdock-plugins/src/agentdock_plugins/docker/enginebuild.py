"""One ``docker build`` on the engine, without network, its output streamed as progress.

A failing step is reported with what that step printed (not the engine's bookkeeping), and
the images the intermediate stages left are removed.
"""

from __future__ import annotations

import contextlib
import re
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from agentdock.deployment.artifacts import Progress
from agentdock.deployment.errors import BuildFailed, TargetUnavailable

from agentdock_plugins.docker.buildplan import Plan

if TYPE_CHECKING:
    import docker

__all__ = ["run_build"]

_LOG_TAIL = 20
# The engine colours what a step wrote to stderr.
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_FROM_STEP = re.compile(r"^Step \d+/\d+ : FROM ")
_MADE = re.compile(r"^ ---> ([0-9a-f]{12,64})$")


def _last_output(lines: Iterable[str]) -> str | None:
    """The last line a build step printed itself (not the engine's step bookkeeping): what
    a failing ``RUN`` said, such as the base image's wrong Python version."""
    said = None
    for line in lines:
        if line.startswith("Step "):
            said = None  # only what the failing step printed
        elif not line.startswith((" ---> ", "Removing intermediate")):
            said = " ".join(line.split())[:300]
    return said


def _drop_stage_images(client: docker.DockerClient, images: list[str | None]) -> None:
    """Remove what the compile stages left behind (their layers are already copied into
    the tagged image, and its tag is what a later build looks for). Removal without force
    never touches an image that is tagged or that another image builds on."""
    import docker.errors

    for image in images:
        if image:
            with contextlib.suppress(docker.errors.DockerException, requests.RequestException):
                client.images.remove(image, noprune=False)


def run_build(
    client: docker.DockerClient,
    context: Path,
    tag: str,
    plan: Plan,
    progress: Progress,
) -> str:
    """Run the engine's build, streaming each output line; returns the image id."""
    import docker.errors

    tail: deque[str] = deque(maxlen=_LOG_TAIL)
    image_id: str | None = None
    # The last image each stage made (None: the stage only named its FROM image).
    stages: list[str | None] = []
    after_from = False
    kwargs: dict[str, Any] = {
        "path": str(context),
        "tag": tag,
        "rm": True,
        "forcerm": True,
        "pull": False,
        "network_mode": "none",
        "decode": True,
    }
    if plan.declared_platform:
        kwargs["platform"] = plan.platform
    stream = None
    try:
        stream = client.api.build(**kwargs)
        for chunk in stream:
            if "error" in chunk:
                message = " ".join(_ANSI.sub("", str(chunk["error"])).split())[:300]
                said = _last_output(tail)
                _drop_stage_images(client, stages[:-1])
                raise BuildFailed(
                    f"the image build failed: {said or message}",
                    hint="see the build output above; fix the step that failed",
                    log_tail=[*tail, message],
                )
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("ID"):
                image_id = str(aux["ID"])
            text = chunk.get("stream") or chunk.get("status")
            if not text:
                continue
            for raw in str(text).splitlines():
                line = _ANSI.sub("", raw).rstrip()
                if line:
                    tail.append(line)
                    progress("build", line)
                    if _FROM_STEP.match(line):
                        stages.append(None)
                        after_from = True
                    elif (made := _MADE.match(line)) and stages:
                        if not after_from:
                            stages[-1] = made.group(1)
                        after_from = False
                    match = re.match(r"^Successfully built ([0-9a-f]{12,64})$", line)
                    if match and image_id is None:
                        image_id = match.group(1)
    except docker.errors.APIError as exc:
        reason = " ".join(str(getattr(exc, "explanation", "") or exc).split())[:300]
        raise BuildFailed(
            f"the Docker engine refused the build: {reason}", log_tail=list(tail)
        ) from None
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise TargetUnavailable(
            f"the Docker engine stopped answering during the build ({type(exc).__name__})",
            hint="check that dockerd is still running (`docker info`), then build again",
            log_tail=list(tail),
        ) from None
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    if image_id is None:
        raise BuildFailed("the image build ended without an image", log_tail=list(tail))
    _drop_stage_images(client, stages[:-1])
    return image_id
