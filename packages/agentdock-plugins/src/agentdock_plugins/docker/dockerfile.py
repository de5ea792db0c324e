"""The Dockerfiles of an agent image, rendered from a few facts and nothing else.

An image is built in three levels, each ``FROM`` the one below by image id, each with a
build context holding only its own files:

1. ``agentdock-layers/deps``: the base image, the runtime user, the third-party
   dependencies (shared by every agent with the same requirements, Python and platform);
2. ``agentdock-layers/runtime``: plus AgentDock's own distributions;
3. ``agentdock/<agent>``: plus the agent's code and the spec snapshot, and every line that
   only sets metadata (labels last).

So the layers go base → user → dependencies → AgentDock → code → snapshot, and a one-line
change of the agent's code rebuilds level 3 alone and sends the engine only the agent's
files. Levels 1 and 2 are multi-stage: dependencies and AgentDock are byte-compiled in a
stage of their own (``unchecked-hash`` pycs, which never depend on file times) and copied
into the next, so each arrives as one layer and the runtime, which never writes bytecode
(``PYTHONDONTWRITEBYTECODE=1``), still starts fast.

Only ``RUN`` steps need the image's CPU; for another platform than the engine's (no
emulation assumed) they are left out: nothing is byte-compiled and the user has no
``/etc/passwd`` entry (``USER 10001:10001`` works without one).

Every ``RUN`` is in exec form with ``python3``: the base image needs no shell, only the
interpreter the agent runs on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from agentdock_plugins.docker.envfile import ENV_FILE_LABEL

__all__ = [
    "APP_DIR",
    "DEPS_DIR",
    "DISTS_DIR",
    "GID",
    "HOME_DIR",
    "LOCK_PATH",
    "SPEC_PATH",
    "STATE_DIR",
    "UID",
    "DockerfileFacts",
    "healthcheck_command",
    "render_agent",
    "render_deps",
    "render_dist",
    "valid_image_ref",
]

UID = 10001
GID = 10001
ROOT = "/opt/agentdock"
DEPS_DIR = f"{ROOT}/deps"
DISTS_DIR = f"{ROOT}/dist"
LOCK_PATH = f"{ROOT}/requirements.lock"
APP_DIR = "/app"
SPEC_PATH = f"{ROOT}/spec.yaml"
#: Where the runtime reads its hardware profile at start-up (agentdock_runtime.machine).
MACHINE_PROFILE_PATH = "/etc/agentdock/machine-profile.json"
HOME_DIR = "/home/agentdock"
#: ``AGENTDOCK_HOME`` in the container: the only directory besides ``HOME`` the runtime
#: user may write (local telemetry buffer, caches).
STATE_DIR = "/var/lib/agentdock"
INIT = f"{DEPS_DIR}/bin/dumb-init"

# A docker image reference: [registry[:port]/]path[:tag][@digest]. Anything else (spaces,
# newlines, quotes) could smuggle instructions into the Dockerfile.
_IMAGE_REF = re.compile(
    r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@sha256:[a-f0-9]{64})?$"
    r"|^sha256:[a-f0-9]{64}$"
)


_LABEL_KEY = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


def valid_image_ref(ref: str) -> bool:
    """Whether ``ref`` is a well-formed image reference (``python:3.11-slim-bookworm``) or
    a local image id (``sha256:...``, what the builder puts in ``FROM``)."""
    return bool(_IMAGE_REF.match(ref))


@dataclass(frozen=True, slots=True)
class DockerfileFacts:
    """What the first level depends on."""

    #: What ``FROM`` names: the builder passes the base image's id, so the image is built
    #: on exactly the base its digest names, and the build never pulls.
    base_image: str
    python_version: str
    native: bool = True


def _exec(args: list[str]) -> str:
    return json.dumps(args)


def healthcheck_command(port: int) -> list[str]:
    """``/health`` probed with the standard library (the image has no curl).

    ``-I`` keeps the probe independent of ``PYTHONPATH`` (fast, and nothing of the agent is
    imported); no proxy is consulted (an ``HTTP_PROXY`` given to the agent must not turn
    the probe into a request elsewhere); ``AGENTDOCK_PORT`` wins over the Dockfile's port,
    as it does for the runtime.
    """
    probe = (
        "import os,sys,urllib.request as u;"
        f"p=os.environ.get('AGENTDOCK_PORT') or '{int(port)}';"
        "r=u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:'+p+'/health',timeout=4);"
        "sys.exit(0 if r.status==200 else 1)"
    )
    return ["python3", "-I", "-c", probe]


#: Clears the setuid and setgid bits of every file of the root file system (``find / -xdev
#: -perm /6000 -exec chmod a-s``, without find): no program of the image can run with
#: another user's or group's rights, whatever the container's settings.
_NO_SETID = """
import os, stat
root = os.lstat("/").st_dev
for top, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.lstat(os.path.join(top, d)).st_dev == root]
    for name in files:
        path = os.path.join(top, name)
        mode = os.lstat(path).st_mode
        if stat.S_ISREG(mode) and mode & 0o6000:
            os.chmod(path, mode & ~0o6000)
"""


def _prepare_script(python_version: str) -> str:
    """Checks the interpreter the dependencies were installed for, then adds the runtime
    user and its writable directories (no ``useradd``: a slim or distroless base may lack
    it) and clears every setuid and setgid bit (:data:`_NO_SETID`)."""
    return (
        "import os,sys;"
        "v='%d.%d'%sys.version_info[:2];"
        f"w={python_version!r};"
        "v==w or sys.exit('the base image runs Python '+v+' but the dependencies are for '+w"
        "+': set build.python_version to '+v+' or pick a base image with Python '+w);"
        f"open('/etc/passwd','a').write('agentdock:x:{UID}:{GID}::{HOME_DIR}:/sbin/nologin\\n');"
        f"open('/etc/group','a').write('agentdock:x:{GID}:\\n');"
        f"[(os.makedirs(d,exist_ok=True),os.chown(d,{UID},{GID}),os.chmod(d,0o750))"
        f" for d in ({HOME_DIR!r},{STATE_DIR!r})]" + _NO_SETID
    )


def _compile(path: str) -> str:
    return _exec(
        ["python3", "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
         path]
    )  # fmt: skip


def _quote(value: str) -> str:
    """A double-quoted Dockerfile word: ``\\``, ``"`` and ``$`` escaped (no variable is
    expanded), whitespace runs (newlines included) folded into one space."""
    text = " ".join(value.split())
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def _labels_line(labels: Mapping[str, str] | None) -> list[str]:
    if not labels:
        return []
    words = []
    for key, value in sorted(labels.items()):
        if not _LABEL_KEY.match(key):
            raise ValueError(f"not a label key: {key!r}")
        words.append(f"{key}={_quote(value)}")
    return ["LABEL " + " \\\n      ".join(words)]


def _check_ref(ref: str) -> str:
    if not valid_image_ref(ref):
        raise ValueError(f"not an image reference: {ref!r}")
    return ref


def render_deps(facts: DockerfileFacts) -> str:
    """Level 1, on the base image: the runtime user, then the third-party dependencies
    (context: ``deps/``, ``requirements.lock``), byte-compiled in a stage of their own so
    they arrive as one layer.

    :raises ValueError: the base image is not a well-formed reference.
    """
    base = _check_ref(facts.base_image)
    lines = [
        "# Generated by AgentDock: the base image plus the third-party dependencies.",
        f"FROM {base} AS compile",
        "USER 0:0",
        f"COPY deps/ {DEPS_DIR}/",
        f"COPY requirements.lock {LOCK_PATH}",
    ]
    if facts.native:
        lines.append(f"RUN {_compile(DEPS_DIR)}")
    lines += ["", f"FROM {base}", "USER 0:0"]
    if facts.native:
        lines.append(f"RUN {_exec(['python3', '-c', _prepare_script(facts.python_version)])}")
    lines += [f"COPY --from=compile {ROOT}/ {ROOT}/", ""]
    return "\n".join(lines)


def render_dist(parent: str, *, native: bool = True) -> str:
    """Level 2, on level 1: AgentDock's own distributions (context: ``dist/``), byte-compiled
    in a stage of their own: the runtime layer; then the settings every agent image shares
    (environment, non-root user, init as PID 1, command).

    :raises ValueError: ``parent`` is not an image reference.
    """
    parent = _check_ref(parent)
    lines = [
        "# Generated by AgentDock: the dependencies plus AgentDock's runtime.",
        f"FROM {parent} AS compile",
        "USER 0:0",
        f"COPY dist/ {DISTS_DIR}/",
    ]
    if native:
        lines.append(f"RUN {_compile(DISTS_DIR)}")
    lines += [
        "",
        f"FROM {parent}",
        f"COPY --from=compile {DISTS_DIR}/ {DISTS_DIR}/",
        # What every agent image shares is set here, once: level 3 then has few steps.
        "ENV PYTHONDONTWRITEBYTECODE=1 \\",
        "    PYTHONUNBUFFERED=1 \\",
        f"    PYTHONPATH={DISTS_DIR}:{DEPS_DIR} \\",
        f"    HOME={HOME_DIR} \\",
        f"    AGENTDOCK_HOME={STATE_DIR} \\",
        f"    AGENTDOCK_SPEC={SPEC_PATH} \\",
        f"    AGENTDOCK_PROJECT_DIR={APP_DIR}",
        # This runtime reads AGENTDOCK_ENV_FILE: the docker target hands it the deployment's
        # variables in a file instead of the container's (inspectable) environment.
        f'LABEL {ENV_FILE_LABEL}="1"',
        f"USER {UID}:{GID}",
        "STOPSIGNAL SIGTERM",
        f"ENTRYPOINT {_exec([INIT, '--'])}",
        f"CMD {_exec(['python3', '-m', 'agentdock_runtime'])}",
        "",
    ]
    return "\n".join(lines)


def render_agent(parent: str, port: int, labels: Mapping[str, str] | None = None) -> str:
    """Level 3, on level 2: the agent's code, the spec snapshot and the hardware profile's
    tuned defaults (context: ``app/``, ``spec.yaml``, ``machine-profile.json``), its port,
    health check and labels.

    ``labels`` become one ``LABEL`` line at the very end (the build API's ``labels`` option
    would cost one build step each).

    :raises ValueError: ``parent`` is not an image reference, or a label key is not a plain
        dotted name.
    """
    parent = _check_ref(parent)
    port = int(port)
    lines = [
        "# Generated by AgentDock: the agent on its runtime (which sets the user, the",
        "# environment, the init and the command).",
        f"FROM {parent}",
        # The hardware profile changes with the build machine, not with the code: below it.
        f"COPY machine-profile.json {MACHINE_PROFILE_PATH}",
        f"COPY app/ {APP_DIR}/",
        f"COPY spec.yaml {SPEC_PATH}",
        f"WORKDIR {APP_DIR}",
        f"EXPOSE {port}/tcp",
        "HEALTHCHECK --interval=5s --timeout=5s --start-period=60s --retries=3 \\",
        f"    CMD {_exec(healthcheck_command(port))}",
        *_labels_line(labels),
        "",
    ]
    return "\n".join(lines)
