"""`make bench`: cold start, warm overhead, zip size and DynamoDB round trips per handler,
each against a floor measured in the same run. A report, not a test: it exits 0 even when a
target is missed (marked ✗).

    .venv/bin/python -m bench [--no-package] [--no-importtime]

BENCH_ROUNDS (default 12) sets the interleaved cold-start rounds, BENCH_ITERATIONS (default
200) the warm requests per handler. The tables are printed, written to bench/results/latest.md
and into docs/performance.md (between its `bench:cold` markers, with the commit and the date).
"""

import argparse
import json
import os
import platform
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import cold, doc, package
from bench.cases import CASES, ROOT, env_groups

COLD_TARGET = 1.25  # × the floor's cold start
WARM_TARGET = 0.25  # × one stubbed GetItem
# bytes; a function with stripe (not on simple) may have 6 MB (tests/infra/test_packaging.py).
ZIP_TARGET = 1_500_000
RESULTS = ROOT / "bench" / "results"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def mark(ok: bool | None) -> str:
    return "" if ok is None else (" ✓" if ok else " ✗")


def spread(values: list[float], scale: float = 1, digits: int = 0) -> str:
    low, mid, high = min(values) * scale, statistics.median(values) * scale, max(values) * scale
    return f"{mid:.{digits}f} [{low:.{digits}f}–{high:.{digits}f}]"


def warm_run(iterations: int) -> dict:
    """bench.warm in a fresh process per group of feature settings (cases.env_groups), merged:
    each case's figures from its group's run, the GetItem unit from the first (no features)."""
    merged: dict = {}
    for group in reversed(range(len(env_groups()))):  # the first group's unit last, kept
        for key, value in _warm_group(iterations, group).items():
            merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value
    return merged


def _warm_group(iterations: int, group: int) -> dict:
    """bench.warm in a fresh process (its stdout takes the handlers' logs)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(cold.child_env("http://127.0.0.1:9"))  # never reached: the hook answers
    env.update(env_groups()[group])  # read as the process starts: settings are read at import
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.warm", str(iterations), out.name, str(group)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"bench.warm failed:\n{proc.stderr}")
        return json.loads(Path(out.name).read_text())


def top(profile: dict[str, float], n: int) -> str:
    ranked = sorted(profile.items(), key=lambda kv: -kv[1])[:n]
    return ", ".join(f"{name} {ms:.0f}" for name, ms in ranked if ms >= 0.5)


def delta(profile: dict[str, float], floor: dict[str, float]) -> str:
    """The biggest import-time differences from the floor: 4 more, 2 less."""
    diff = {name: profile.get(name, 0.0) - floor.get(name, 0.0) for name in {*profile, *floor}}
    ranked = sorted(diff.items(), key=lambda kv: -kv[1])
    more = [f"+{name} {ms:.0f}" for name, ms in ranked[:4] if ms >= 1]
    less = [f"−{name} {-ms:.0f}" for name, ms in reversed(ranked[-2:]) if ms <= -1]
    return ", ".join(more + less)


def report(
    code: str,
    rounds: int,
    coldruns: dict,
    warm: dict,
    sizes: dict,
    why_no_zip: str | None,
    layers: dict | None = None,
) -> str:
    runs, imports = coldruns["runs"], coldruns["imports"]
    floor = runs[cold.FLOOR]
    unit = warm["median"]["GetItem"]
    lines = [
        f"# make bench: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Code at {code}; Python {platform.python_version()} on {platform.machine()} "
        f"({os.cpu_count()} CPUs), "
        f"{rounds} interleaved cold rounds, {warm['iterations']} warm requests per handler.",
        "",
        f"- **Floor, cold**: a fresh `python` that imports boto3, creates a DynamoDB client and "
        f"makes one GetItem (moto server): **{spread(floor['wall'], 1000)} ms** "
        "(median [min–max]).",
        f"- **Floor, warm**: one stubbed GetItem on the handlers' client: **{unit * 1e6:.0f} µs**.",
        f"- Targets: cold ≤ {COLD_TARGET}× floor, warm overhead ≤ {WARM_TARGET}× GetItem, "
        f"zip ≤ {ZIP_TARGET / 1e6:.1f} MB, calls ≤ the Go backend's (book ≤ 2, user set ≤ 1).",
        "",
        "| handler | cold ms | cold ×floor | warm µs (total / ours) | warm ×GetItem "
        "| zip MB | calls (ours / Go) | targets |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for case in CASES:
        why = coldruns["failed"].get(case.name) or warm["failed"].get(case.name)
        if why:
            lines.append(f"| {case.name} | failed: `{why}` | | | | | | ✗ fails |")
            continue
        row = runs[case.name]
        ratio = statistics.median(row["ratio"])
        cold_ok = ratio <= COLD_TARGET
        calls = len(warm["calls"][case.name])
        total = warm["median"][case.name]
        ours = total - calls * unit
        warm_ok = ours / unit <= WARM_TARGET
        size = sizes.get(case.function)
        zip_ok = None if size is None else size <= ZIP_TARGET
        zip_cell = f"{size / 1e6:.2f}{mark(zip_ok)}" if size else "n/a"
        calls_ok = calls <= case.call_target
        target = f" (≤ {case.call_target})" if case.call_target != case.original else ""
        misses = [
            name
            for name, ok in (
                ("cold", cold_ok),
                ("warm", warm_ok),
                ("zip", zip_ok),
                ("calls", calls_ok),
            )
            if ok is False
        ]
        lines.append(
            f"| {case.name} | {spread(row['wall'], 1000)} "
            f"| {spread(row['ratio'], digits=2)}×{mark(cold_ok)} "
            f"| {total * 1e6:.0f} / {ours * 1e6:.0f} | {ours / unit:.2f}×{mark(warm_ok)} "
            f"| {zip_cell} | {calls} / {case.original or '–'}{target}{mark(calls_ok)} "
            f"| {'✗ ' + ', '.join(misses) if misses else '✓'} |"
        )
    lines += [
        "",
        "Cold ms and ×floor: median [min–max] over the rounds; ×floor is the median of the "
        "per-round ratios. Warm: median request time with DynamoDB stubbed, and what is left "
        "after subtracting one stubbed GetItem per DynamoDB call.",
    ]
    if why_no_zip:
        lines += ["", f"zip: n/a ({why_no_zip})"]
    else:  # a layer is deployed once, whatever number of functions use it
        listed = ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in sorted(layers.items()))
        lines += ["", f"Layers, counted once (not in the zips above): {listed or 'none'}."]
    lines += [
        "",
        "## Warm: our code versus botocore (medians, µs)",
        "",
        "The target subtracts one stubbed *GetItem* per call; a Query page or a transaction "
        "costs botocore more than that. *Outside the client* is the request minus the time "
        "actually spent in the client's calls, i.e. our code alone.",
        "",
        "| handler | request | calls | minus calls × GetItem | outside the client | ×GetItem |",
        "|---|---|---|---|---|---|",
    ]
    for case in CASES:
        if case.name not in warm["median"]:
            continue
        total, outside = warm["median"][case.name], warm["outside_client"][case.name]
        calls = warm["calls"][case.name]
        lines.append(
            f"| {case.name} | {total * 1e6:.0f} | {', '.join(calls)} "
            f"| {(total - len(calls) * unit) * 1e6:.0f} | {outside * 1e6:.0f} "
            f"| {outside / unit:.2f}× |"
        )
    rtt = warm["network_rtt"] * 1000
    lines += [
        "",
        f"## What a player waits for: round trips, with {rtt:.0f} ms per DynamoDB call",
        "",
        "*Critical path*: the calls that wait for one another (calls made at the same time "
        "count once), counted by structure (tests/support.RoundTrips). *Latency*: the warm "
        f"request with every DynamoDB call answered after {rtt:.0f} ms, as a deployed function "
        "waits for DynamoDB (median and p99, ms). Ideal: critical path × "
        f"{rtt:.0f} ms plus the warm time above.",
        "",
        "| handler | calls | critical path | latency median | latency p99 |",
        "|---|---|---|---|---|",
    ]
    for case in CASES:
        if case.name not in warm["latency_median"]:
            continue
        lines.append(
            f"| {case.name} | {len(warm['calls'][case.name])} "
            f"| {warm['critical_path'][case.name]} "
            f"| {warm['latency_median'][case.name] * 1000:.1f} "
            f"| {warm['latency_p99'][case.name] * 1000:.1f} |"
        )
    lines += [
        "",
        "## Where the cold start goes (medians, ms)",
        "",
        "Wall = spawn until the child prints its result (its exit is not counted: a Lambda "
        "container does not exit after a request); start-up = wall − imports − request, "
        "i.e. interpreter start; the request includes creating the DynamoDB client. "
        "Import self-time per package from "
        f"`python -X importtime` (median of {cold.IMPORT_RUNS} runs; it inflates what it "
        "measures: compare rows with each other, not with wall); Δ = the biggest differences "
        "from the floor's; *ours* = api, database, handlers.",
        "",
        "| | wall | start-up | imports | first request | import self-time by package "
        "| Δ vs floor |",
        "|---|---|---|---|---|---|---|",
    ]
    floor_imports = imports.get(cold.FLOOR, {})
    for name in [cold.FLOOR, *(case.name for case in CASES)]:
        row = runs[name]
        if name in coldruns["failed"]:
            continue
        wall, imp, call = (statistics.median(row[k]) * 1000 for k in ("wall", "import", "call"))
        profile = imports.get(name, {})
        lines.append(
            f"| {name} | {wall:.0f} | {wall - imp - call:.0f} | {imp:.0f} | {call:.0f} "
            f"| {top(profile, 6) or 'n/a'} | {delta(profile, floor_imports) if profile else ''} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--no-package", action="store_true", help="skip `sls package`")
    parser.add_argument("--no-importtime", action="store_true", help="skip -X importtime runs")
    args = parser.parse_args()
    doc.check("cold")  # a doc without its markers fails now, not after minutes of measuring
    started_at = datetime.now(UTC)
    code = doc.revision()  # before measuring: the tree may change meanwhile
    rounds = int(os.environ.get("BENCH_ROUNDS", "12"))
    iterations = int(os.environ.get("BENCH_ITERATIONS", "200"))
    if args.no_importtime:
        cold.IMPORT_RUNS = 0

    sizes, layers, why_no_zip = {}, {}, "skipped (--no-package)"
    if not args.no_package:
        progress("sls package --stage simple (about a minute)...")
        started = time.perf_counter()
        sizes, layers, why_no_zip = package.zip_sizes({case.function for case in CASES})
        progress(
            f"  {time.perf_counter() - started:.0f} s{': ' + why_no_zip if why_no_zip else ''}"
        )

    progress(f"cold starts: {rounds} rounds of {len(CASES) + 1} fresh processes...")
    coldruns = cold.measure(CASES, rounds, random.Random(), progress)
    progress(f"warm requests: {iterations} per handler...")
    warm = warm_run(iterations) | {"iterations": iterations}

    table = report(code, rounds, coldruns, warm, sizes, why_no_zip, layers)
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(table)
    progress(f"written to {(RESULTS / 'latest.md').relative_to(ROOT)}")
    _title, _, body = table.partition("\n\n")  # the doc's section has its own heading
    command = shlex.join(["python", "-m", "bench", *sys.argv[1:]])
    doc.write("cold", body, command=command, code=code, when=started_at)
    progress(f"and into {doc.DOC.relative_to(ROOT)} (commit it with the code it measured)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
