"""What a recipe needs from the machine, checked before its first token and before anything is written: the output
folder can be written, the stages that will run find their models, servers and files (each stage config's
`check_resources()`), and the machine has what the recipe's `requires:` section declares.

Why here and not in each stage: a judge server that is down, a missing benchmark file or a laptop without GPUs
must fail in a second, naming the recipe key, not after hours of generation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from datafactory.errors import UsageError
from datafactory.recipes import key_of

REQUIRES = {"gpus": "CUDA GPUs this machine must have"}


def check_writable(path: Path, out: Path) -> None:
    """OUT, or the nearest folder above it that exists, can be written."""
    folder = out
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise UsageError(f"{path}: out: {out}: cannot be made ({folder} is a file, not a folder)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{path}: out: {out}: cannot be written ({folder} is not writable by this user)")


def cuda_gpus() -> int:
    """CUDA GPUs the NVIDIA driver lists (0 without a driver): asked of nvidia-smi, so no framework is loaded."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in listed.splitlines() if line.startswith("GPU "))


def check_requires(path: Path, data: dict) -> None:
    """The machine has what the recipe's `requires:` declares."""
    wanted = (data.get("requires") or {}).get("gpus")
    if wanted:
        have = cuda_gpus()
        if have < wanted:
            raise UsageError(
                f"{path}: requires.gpus: this machine has {have} CUDA GPU{'s' if have != 1 else ''} and the recipe "
                f"needs {wanted}; run it on a GPU machine (pip install 'datafactory[gpu]'), or try it here with "
                f"--set model=toy --set engine=vllm --set generate.tensor_parallel_size=1 --set requires.gpus=0"
            )


def check_steps(path: Path, data: dict, steps) -> None:
    """Each stage that will run finds its model, server and files; an error names the recipe key it is about."""
    index = {source["name"]: i for i, source in enumerate(data["sources"])}
    for step in steps:
        if not step.runs:
            continue
        try:
            step.config.check_resources()
        except UsageError as err:
            key = key_of(data, step.stage, getattr(err, "option", None), index.get(step.source))
            raise UsageError(f"{path}: {key}: {err}") from None
