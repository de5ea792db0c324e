"""A fake ``nvidia-smi`` on disk, for the hardware probe's tests without a GPU."""

from __future__ import annotations

import stat
from pathlib import Path

__all__ = ["SMI_BANNER", "SMI_TWO_GPUS", "fake_smi"]

#: ``--query-gpu=index,name,memory.total,driver_version,uuid --format=csv,noheader,nounits``
SMI_TWO_GPUS = """\
0, NVIDIA GeForce RTX 4090, 24564, 550.54.14, GPU-aaaa
1, NVIDIA GeForce RTX 3060, 12288, 550.54.14, GPU-bbbb
"""
SMI_BANNER = """\
+-----------------------------------------------------------------------------+
| NVIDIA-SMI 550.54.14    Driver Version: 550.54.14    CUDA Version: 12.4     |
+-----------------------------------------------------------------------------+
"""


def fake_smi(directory: Path, rows: str, *, exit_code: int = 0, message: str = "") -> Path:
    """An ``nvidia-smi`` in ``directory`` that answers the query with ``rows`` and plain
    calls with a banner; with ``exit_code``, prints ``message`` and fails instead."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "rows.txt").write_text(rows)
    (directory / "banner.txt").write_text(SMI_BANNER)
    (directory / "message.txt").write_text(message + "\n")
    script = directory / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\n"
        f"if [ {exit_code} -ne 0 ]; then cat '{directory}/message.txt'; exit {exit_code}; fi\n"
        'case "$1" in\n'
        f"  --query-gpu=*) cat '{directory}/rows.txt' ;;\n"
        f"  *) cat '{directory}/banner.txt' ;;\n"
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script
