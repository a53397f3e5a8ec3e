"""Serve the status page, a feed and the Statuspage summary under load, beside a bare route.

    python -m bench.status_page [--duration 10] [--connections 16] [--load wrk|httpx]

Seeds 10,000 incidents with 50,000 updates (bench.seed) into a new temporary
SQLite file (or the empty database given by --database-url), starts `herald web`
on it in a subprocess, and a one-route Starlette app with the same uvicorn
settings in another. It times the first request to each Herald route (nothing
cached yet: a real render), then loads every route in turn from 127.0.0.1 with
a fixed number of keep-alive connections sending Accept-Encoding: gzip, as
browsers and feed readers do: `wrk` when installed (apt-get install wrk), else a
bounded httpx client. Prints throughput and latency percentiles side by side and
exits 1 when a Herald route misses a target.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx

from bench.cli_list_show import child_environment, herald_script
from bench.seed import database_url, seed
from bot.web import RECHECK_SECONDS

BARE = "/bare"
ROUTES = ("/", "/feed.atom", "/api/v2/summary.json")
SHARE_TARGET = 0.5
P99_TARGET_MS = 20.0
FIRST_RENDER_TARGET_MS = 150.0
HEADERS = {"Accept-Encoding": "gzip"}


@dataclass(frozen=True)
class Load:
    """What one route did under load."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


@dataclass(frozen=True)
class Row:
    """One line of the table: a fresh process's first render, one after a change, the load."""

    label: str
    first_ms: float | None
    changed_ms: float | None
    load: Load


# -- the servers -------------------------------------------------------------------------


def serve_bare(port: int) -> None:
    """Run the bare route: the same framework and uvicorn settings as `herald web`."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    async def bare(request: Request) -> Response:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route(BARE, bare), Route("/healthz", bare)])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, log_level="warning", proxy_headers=True
    )
    uvicorn.Server(config).run()


def free_port() -> int:
    """A TCP port on the loopback that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(argv: Sequence[str], env: dict[str, str], cwd: Path, base: str) -> subprocess.Popen[str]:
    """Start a server and wait until its /healthz answers."""
    process = subprocess.Popen(
        list(argv), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{argv[0]} exited: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{' '.join(argv)} did not answer /healthz within 60 s")


def stop(process: subprocess.Popen[str]) -> None:
    """Stop a server and wait for it."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- measuring ---------------------------------------------------------------------------


def first_render_ms(url: str) -> float:
    """The time of one request that nothing is cached for yet."""
    began = time.perf_counter()
    response = httpx.get(url, headers=HEADERS, timeout=30)
    elapsed = (time.perf_counter() - began) * 1000
    response.raise_for_status()
    return elapsed


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk_ms(text: str, percentile: str) -> float:
    match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {percentile}% latency in wrk's output:\n{text}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def load_with_wrk(url: str, *, seconds: float, connections: int) -> Load:
    """Load one URL with wrk (one thread) and read its summary."""
    wrk = shutil.which("wrk")
    assert wrk is not None
    header = [f"{k}: {v}" for k, v in HEADERS.items()]
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--latency"]
    for line in header:
        command += ["-H", line]
    done = subprocess.run([*command, url], capture_output=True, text=True, check=True)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", done.stdout, re.MULTILINE)
    if rate is None:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{done.stdout}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", done.stdout)
    sockets = re.search(r"Socket errors:.*", done.stdout)
    return Load(
        requests_per_second=float(rate.group(1)),
        p50_ms=_wrk_ms(done.stdout, "50"),
        p99_ms=_wrk_ms(done.stdout, "99"),
        errors=int(bad.group(1)) if bad else (1 if sockets else 0),
    )


async def _httpx_load(url: str, seconds: float, connections: int) -> Load:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, headers=HEADERS, timeout=10) as client:
        end = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < end:
                began = time.perf_counter()
                response = await client.get(url)
                await response.aread()
                latencies.append((time.perf_counter() - began) * 1000)
                errors += response.status_code != 200

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        took = time.perf_counter() - began
    ordered = sorted(latencies)
    return Load(
        requests_per_second=len(ordered) / took,
        p50_ms=statistics.median(ordered),
        p99_ms=ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        errors=errors,
    )


def load(url: str, *, tool: str, seconds: float, connections: int) -> Load:
    """Warm up briefly, then load one URL for the given time."""
    if tool == "wrk":
        load_with_wrk(url, seconds=2, connections=connections)
        return load_with_wrk(url, seconds=seconds, connections=connections)
    asyncio.run(_httpx_load(url, 2, connections))
    return asyncio.run(_httpx_load(url, seconds, connections))


# -- the report --------------------------------------------------------------------------


def verdict(row: Row, bare: Load) -> str:
    """PASS or FAIL for a Herald route; the bare route is the yardstick."""
    if row.label == BARE:
        return "yardstick"
    misses = []
    share = row.load.requests_per_second / bare.requests_per_second
    if share < SHARE_TARGET:
        misses.append(f"{share:.0%} of bare")
    if row.load.p99_ms > P99_TARGET_MS:
        misses.append("p99")
    if max(row.first_ms or 0, row.changed_ms or 0) > FIRST_RENDER_TARGET_MS:
        misses.append("first render")
    if row.load.errors:
        misses.append(f"{row.load.errors} errors")
    return "PASS" if not misses else "FAIL: " + ", ".join(misses)


def render(rows: Sequence[Row]) -> str:
    """The table: first render, throughput, share of the bare route, p50 and p99."""
    bare = next(r.load for r in rows if r.label == BARE)
    width = max(len("route"), *(len(r.label) for r in rows))
    header = (
        f"{'route':<{width}}  {'first ms':>8}  {'changed':>7}  {'req/s':>8}  {'of bare':>7}  "
        f"{'p50 ms':>7}  {'p99 ms':>7}  result"
    )
    lines = [header, "-" * (len(header) + 20)]
    for row in rows:
        first = "-" if row.first_ms is None else f"{row.first_ms:.1f}"
        changed = "-" if row.changed_ms is None else f"{row.changed_ms:.1f}"
        share = row.load.requests_per_second / bare.requests_per_second
        rate = row.load.requests_per_second
        lines.append(
            f"{row.label:<{width}}  {first:>8}  {changed:>7}  {rate:>8.0f}  {share:>7.0%}  "
            f"{row.load.p50_ms:>7.2f}  {row.load.p99_ms:>7.2f}  {verdict(row, bare)}"
        )
    lines.append(
        "first ms: the first request to a new process; changed: the first after a new incident "
        "(a running process, its cache outdated)"
    )
    lines.append(
        f"targets: >= {SHARE_TARGET:.0%} of the bare route's req/s, p99 <= {P99_TARGET_MS:.0f} ms, "
        f"both first renders <= {FIRST_RENDER_TARGET_MS:.0f} ms"
    )
    return "\n".join(lines)


def post_change(env: dict[str, str], workdir: Path) -> None:
    """Change the data the way a responder does: open an incident through the CLI."""
    argv = [str(herald_script()), "open", "Benchmark: posta lenta", "--sev", "4"]
    subprocess.run(argv, cwd=workdir, env=env, capture_output=True, check=True)


def measure(args: argparse.Namespace, url: str, workdir: Path) -> list[Row]:
    """Start both servers, time the first renders, then load every route in turn."""
    env = {**child_environment(url, workdir), "LOG_LEVEL": "WARNING"}
    herald_port, bare_port = free_port(), free_port()
    herald_base, bare_base = f"http://127.0.0.1:{herald_port}", f"http://127.0.0.1:{bare_port}"
    env["PUBLIC_URL"] = herald_base
    options = {"tool": args.load, "seconds": args.duration, "connections": args.connections}
    bare_server = start(
        [sys.executable, "-m", "bench.status_page", "--serve-bare", str(bare_port)],
        env,
        Path(__file__).resolve().parent.parent,
        bare_base,
    )
    try:
        rows = [Row(BARE, None, None, load(bare_base + BARE, **options))]
    finally:
        stop(bare_server)
    herald = start(
        [str(herald_script()), "web", "--port", str(herald_port)], env, workdir, herald_base
    )
    try:
        first = {route: first_render_ms(herald_base + route) for route in ROUTES}
        loads = {route: load(herald_base + route, **options) for route in ROUTES}
        post_change(env, workdir)
        time.sleep(RECHECK_SECONDS + 0.2)  # the longest a running process takes to notice
        changed = {route: first_render_ms(herald_base + route) for route in ROUTES}
    finally:
        stop(herald)
    rows += [Row(r, first[r], changed[r], loads[r]) for r in ROUTES]
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Seed, serve, load, print the table; exit 1 if a Herald route misses a target."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.status_page",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per route")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--load", choices=("wrk", "httpx"), default=None)
    parser.add_argument("--database-url", help="an EMPTY database to seed instead of SQLite")
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--updates-per-incident", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    args.load = args.load or ("wrk" if shutil.which("wrk") else "httpx")
    workdir = Path(tempfile.mkdtemp(prefix="herald-bench-"))
    try:
        url = database_url(args.database_url or str(workdir / "herald.db"))
        seeded = seed(url, args.incidents, args.updates_per_incident)
        print(
            f"seeded {seeded.incidents} incidents ({seeded.open_incidents} open), "
            f"{seeded.updates} updates in {seeded.seconds:.1f} s"
        )
        print(
            f"python {platform.python_version()} on {platform.machine()} ({os.cpu_count()} CPUs), "
            f"{url.split(':', 1)[0]}, load by {args.load}: {args.connections} connections, "
            f"{args.duration:.0f} s per route"
        )
        rows = measure(args, url, workdir)
        print()
        print(render(rows))
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    bare = rows[0].load
    return 1 if any(verdict(r, bare).startswith("FAIL") for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
