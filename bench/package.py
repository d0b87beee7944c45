"""Deployment zip sizes from `sls package --stage simple` (dependencies in, boto3 out), and
the layers' (stage-features' requirement layers: each counted once, whoever uses it)."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.cases import ROOT

STAGE = "simple"


def _package(out: str) -> subprocess.CompletedProcess:
    # Packaging needs no AWS account: no AWS_* variable reaches it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["SLS_TELEMETRY_DISABLED"] = "1"
    return subprocess.run(
        ["npx", "--no-install", "sls", "package", "--stage", STAGE, "--package", out],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def zip_sizes(functions: set[str]) -> tuple[dict[str, int], dict[str, int], str | None]:
    """({function: zip bytes}, {layer: zip bytes}, None), or ({}, {}, why not)."""
    if shutil.which("npx") is None:
        return {}, {}, "npx not found (install Node 20+)"
    if not (ROOT / "node_modules" / ".bin" / "sls").exists():
        return {}, {}, "node_modules missing (run `npm ci`)"
    with tempfile.TemporaryDirectory(prefix="bench-sls-") as out:
        try:
            proc = _package(out)
            if proc.returncode != 0:  # one retry: a packaging run next door can collide
                proc = _package(out)
        except subprocess.TimeoutExpired:
            return {}, {}, "sls package timed out"
        if proc.returncode != 0:
            lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
            why = "sls package failed: " + (lines[-1] if lines else f"exit {proc.returncode}")
            return {}, {}, why
        zips = {f: Path(out) / f"{f}.zip" for f in functions}
        sizes = {f: path.stat().st_size for f, path in zips.items() if path.exists()}
        layers = {path.stem: path.stat().st_size for path in Path(out).glob("*Layer.zip")}
    return sizes, layers, None
