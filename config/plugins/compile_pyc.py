"""Add CPython bytecode to Lambda deployment zips (run by compile-pyc.js, under Python 3.12).

/var/task is read-only on Lambda, so a module without a matching
``__pycache__/<name>.cpython-312.pyc`` is compiled again on every cold start. Both the
framework and serverless-python-requirements zip files with the date 1980-01-01, so
timestamp-checked .pyc files would never match their sources; these are written as
*checked-hash* .pyc files (PEP 552): the interpreter validates them against a hash of the
source, whatever its mtime, so a stale .pyc can never be used.

Usage: python3.12 compile_pyc.py ZIP [ZIP ...]   (each zip is rewritten in place)
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import py_compile
import sys
import tempfile
import zipfile
from pathlib import Path

TASK_ROOT = "/var/task"  # where Lambda unpacks the zip: the path shown in tracebacks
FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # same bytes in, same zip out: no needless redeploys
TAG = sys.implementation.cache_tag  # e.g. "cpython-312"

# The zips of one service share most files (the dependencies): compile each once.
_compiled: dict[tuple[str, bytes], bytes | None] = {}


def pyc_for(name: str, source: bytes, workdir: str) -> bytes | None:
    """Checked-hash bytecode of the zip entry `name`, or None if it does not compile."""
    key = (name, hashlib.sha256(source).digest())
    if key not in _compiled:
        src = Path(workdir, "src.py")
        cfile = Path(workdir, "out.pyc")
        src.write_bytes(source)
        try:
            py_compile.compile(
                str(src),
                cfile=str(cfile),
                dfile=f"{TASK_ROOT}/{name}",
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
            )
            _compiled[key] = cfile.read_bytes()
        except py_compile.PyCompileError:
            _compiled[key] = None  # e.g. a vendored file for another Python: skip it
    return _compiled[key]


def compile_zip(zip_path: Path, workdir: str) -> tuple[int, int]:
    """Rewrite zip_path with a checked-hash .pyc beside each .py; return (size before, after)."""
    before = zip_path.stat().st_size
    out_path = zip_path.with_suffix(".tmp.zip")
    with zipfile.ZipFile(zip_path) as src:
        infos = [
            info
            for info in src.infolist()
            # Bytecode for another interpreter is dead weight on Lambda.
            if not (info.filename.endswith(".pyc") and f".{TAG}." not in info.filename)
        ]
        have = {info.filename for info in infos}
        with zipfile.ZipFile(out_path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
            for info in infos:
                data = src.read(info.filename)
                out.writestr(info, data)
                if not info.filename.endswith(".py"):
                    continue
                cname = importlib.util.cache_from_source(info.filename)
                pyc = None if cname in have else pyc_for(info.filename, data, workdir)
                if pyc is not None:
                    cinfo = zipfile.ZipInfo(cname, FIXED_DATE)
                    cinfo.external_attr = 0o100644 << 16
                    cinfo.compress_type = zipfile.ZIP_DEFLATED
                    out.writestr(cinfo, pyc)
    os.replace(out_path, zip_path)
    return before, zip_path.stat().st_size


def main(argv: list[str]) -> int:
    if sys.version_info[:2] != (3, 12):
        print(f"compile_pyc: needs Python 3.12, this is {sys.version.split()[0]}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as workdir:
        for arg in argv:
            before, after = compile_zip(Path(arg), workdir)
            print(f"{Path(arg).name}: {before} -> {after} bytes with {TAG} bytecode")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
