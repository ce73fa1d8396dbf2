"""``manage.py bench_api``: the channel API under load, measured as DESIGN.md asks.

Starts gunicorn as the README deploys it (production settings, the Prometheus hooks) on
127.0.0.1 against the configured PostgreSQL database, seeds the demo bank if the database
has no customers, then drives three endpoints from a separate load process at rising
concurrency:

- ``POST /api/v1/decisions/`` for random customers (the measured path),
- ``GET /api/v1/whoami/``, a trivial endpoint doing one indexed lookup (the API key),
- ``GET /api/v1/health/`` (no key; one ``SELECT 1``).

The load comes from ``wrk`` when installed (Debian: ``apt-get install wrk``; a Lua script
picks a random customer per request), else from a Python multiprocess generator with
keep-alive ``http.client`` connections. For each endpoint and concurrency it reports
throughput, client-observed p50/p99, and server-side p50/p99 read from gunicorn's access
log (request time), plus any non-2xx answers. ``--profile N`` also profiles N decision
requests in this process (pyinstrument when installed, else cProfile) and prints where
the time goes.

Targets (DESIGN.md): 1,000 decisions/s on 2 cores, p99 <= 20 ms server side, within 2x of
the trivial endpoint measured in the same run.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from core.channels import INBOUND
from core.choices import Role
from core.models import ApiClient
from crosssell.services import api_client_create
from customers.models import Customer
from demo import loadgen

SAMPLE_CUSTOMERS = 5000


@dataclass
class Level:
    endpoint: str
    concurrency: int
    requests: int
    seconds: float
    errors: int
    non_2xx: int
    p50_ms: float
    p99_ms: float
    server_p50_ms: float | None = None
    server_p99_ms: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


class Command(BaseCommand):
    help = (
        "Benchmark the channel API (decisions beside a trivial endpoint and health) with "
        "gunicorn on PostgreSQL at rising concurrency."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customers",
            type=int,
            default=100_000,
            help="customers to seed when the database has none (default %(default)s)",
        )
        parser.add_argument("--seed", type=int, default=7, help="seed for seed_demo and sampling")
        parser.add_argument(
            "--levels",
            default="1,8,16",
            help="concurrency levels, comma-separated (default %(default)s)",
        )
        parser.add_argument(
            "--duration",
            type=float,
            default=10.0,
            help="seconds per endpoint and level (default %(default)s)",
        )
        parser.add_argument(
            "--warmup",
            type=float,
            default=2.0,
            help="seconds of warm-up per endpoint before measuring",
        )
        parser.add_argument(
            "--settings-module",
            dest="server_settings",
            default="crosssell.settings.production",
            help="the server's DJANGO_SETTINGS_MODULE (default %(default)s, as deployed)",
        )
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
        parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
        parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
        parser.add_argument(
            "--channel",
            default="contact_center",
            choices=sorted(INBOUND),
            help="the inbound channel to ask for",
        )
        parser.add_argument(
            "--load",
            default="auto",
            choices=["auto", "wrk", "python"],
            help="load generator (auto: wrk when installed)",
        )
        parser.add_argument(
            "--endpoints",
            default="health,whoami,decisions",
            help="which endpoints to drive (default %(default)s)",
        )
        parser.add_argument(
            "--profile",
            type=int,
            default=0,
            metavar="N",
            help="also profile N decision requests in-process",
        )
        parser.add_argument(
            "--allow-sqlite",
            action="store_true",
            help="run on SQLite anyway (a smoke run; the figures mean little)",
        )
        parser.add_argument(
            "--json",
            dest="json_path",
            default="",
            help="also write the results as JSON to this file",
        )

    # --- orchestration ---------------------------------------------------------------------

    def handle(self, *args, **options) -> None:
        if connection.vendor != "postgresql" and not options["allow_sqlite"]:
            raise CommandError(
                "bench_api measures the PostgreSQL deployment, but the database is "
                f"{connection.vendor}. Set DATABASE_URL=postgres://... (createdb), or "
                "pass --allow-sqlite for a smoke run whose figures mean little."
            )
        levels = [int(level) for level in options["levels"].split(",") if level.strip()]
        endpoints = [name.strip() for name in options["endpoints"].split(",") if name.strip()]
        unknown = set(endpoints) - {"health", "whoami", "decisions"}
        if unknown or not levels or min(levels) < 1:
            raise CommandError(
                "--levels are positive integers; --endpoints of health,whoami,decisions"
            )
        load = options["load"]
        if load == "auto":
            load = "wrk" if shutil.which("wrk") else "python"
        elif load == "wrk" and not shutil.which("wrk"):
            raise CommandError(
                "wrk is not installed (Debian: apt-get install -y wrk); use --load python"
            )

        self._seed_if_empty(options["customers"], options["seed"])
        key = self._bench_key()
        ids = self._sample_customers(options["seed"])
        self.stdout.write(
            f"database {connection.vendor} {settings.DATABASES['default'].get('NAME')}: "
            f"{Customer.objects.count():,} customers; load from {load}; "
            f"gunicorn {options['workers']} {options['worker_class']} workers "
            f"({options['server_settings']}); "
            f"{os.cpu_count()} CPUs"
        )
        workdir = Path(tempfile.mkdtemp(prefix="bench_api_"))
        port = _free_port()
        access_log = workdir / "access.log"
        server = self._start_gunicorn(options, port, access_log)
        results: list[Level] = []
        try:
            self._wait_until_up(port, server)
            for endpoint in endpoints:
                spec = self._spec(endpoint, key, ids, options["channel"])
                if options["warmup"] > 0:
                    self._drive(load, port, spec, max(levels), options["warmup"], workdir)
                for level in levels:
                    offset = access_log.stat().st_size if access_log.exists() else 0
                    result = self._drive(load, port, spec, level, options["duration"], workdir)
                    result.server_p50_ms, result.server_p99_ms = self._server_times(
                        access_log, offset, spec["path"]
                    )
                    results.append(result)
                    self._print_level(result)
        finally:
            self._stop(server)
            ApiClient.objects.filter(name=self._key_name).update(is_active=False)
        self._report(results)
        if options["json_path"]:
            Path(options["json_path"]).write_text(
                json.dumps([{**r.__dict__, "rps": r.rps} for r in results], indent=2)
            )
        if options["profile"]:
            self._profile(options["profile"], key, ids, options["channel"])
        shutil.rmtree(workdir, ignore_errors=True)

    def _seed_if_empty(self, customers: int, seed: int) -> None:
        call_command("migrate", verbosity=0)
        if Customer.objects.exists():
            return
        self.stdout.write(f"no customers yet: seeding the demo bank with {customers:,} customers")
        try:
            call_command(
                "seed_demo", customers=customers, seed=seed, no_progress=True, stdout=self.stdout
            )
        except CommandError as exc:
            raise CommandError(f"seeding failed: {exc}") from exc

    def _bench_key(self) -> str:
        self._key_name = f"bench-api-{int(time.time())}-{os.getpid()}"
        _client, key = api_client_create(
            actor="system:bench_api",
            name=self._key_name,
            role=Role.CHANNEL,
            channels=sorted(INBOUND),
        )
        return key

    def _sample_customers(self, seed: int) -> list[str]:
        ids = list(
            Customer.objects.filter(erased_at__isnull=True)
            .order_by("pk")
            .values_list("external_id", flat=True)
        )
        if not ids:
            raise CommandError("no customers to ask about")
        rng = random.Random(seed)
        return rng.sample(ids, min(SAMPLE_CUSTOMERS, len(ids)))

    def _spec(self, endpoint: str, key: str, ids: list[str], channel: str) -> dict[str, Any]:
        if endpoint == "health":
            return {"name": "health", "method": "GET", "path": "/api/v1/health/", "headers": {}}
        auth = {"Authorization": f"Token {key}"}
        if endpoint == "whoami":
            return {"name": "whoami", "method": "GET", "path": "/api/v1/whoami/", "headers": auth}
        return {
            "name": "decisions",
            "method": "POST",
            "path": "/api/v1/decisions/",
            "headers": {**auth, "Content-Type": "application/json"},
            "ids": ids,
            "channel": channel,
        }

    # --- the server ------------------------------------------------------------------------

    def _start_gunicorn(self, options, port: int, access_log: Path) -> subprocess.Popen:
        """gunicorn as the README deploys it: production settings, the Prometheus hooks
        with a multiprocess directory, a broker's Redis for the throttle when one is set."""
        gunicorn = shutil.which("gunicorn") or str(Path(sys.executable).with_name("gunicorn"))
        metrics_dir = access_log.parent / "prometheus"
        metrics_dir.mkdir()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": options["server_settings"],
            "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            # The load comes over plain HTTP on loopback, as from a TLS-terminating proxy.
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_DEBUG": "false",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            # Keep the throttle's work in the measurement, never its 429s.
            "CROSSSELL_API_RATE": "100000000/min",
            "CROSSSELL_LOG_LEVEL": "ERROR",
        }
        command = [
            gunicorn,
            "-c",
            "python:crosssell.observability.gunicorn",
            "crosssell.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(options["workers"]),
            "--worker-class",
            options["worker_class"],
            "--access-logfile",
            str(access_log),
            # request path, status, request time in microseconds
            "--access-logformat",
            "%(U)s %(s)s %(D)s",
            "--log-level",
            "warning",
            "--backlog",
            "2048",
        ]
        if options["worker_class"] == "gthread":
            command += ["--threads", str(options["threads"])]
        return subprocess.Popen(
            command,
            env=env,
            cwd=settings.BASE_DIR,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def _wait_until_up(self, port: int, server: subprocess.Popen) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError(f"gunicorn exited: {server.stderr.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health/", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise CommandError("gunicorn did not answer within 30 s")

    def _stop(self, server: subprocess.Popen) -> None:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()

    def _server_times(self, log: Path, offset: int, path: str) -> tuple[float | None, float | None]:
        if not log.exists():
            return None, None
        times = []
        with log.open() as handle:
            handle.seek(offset)
            for line in handle:
                parts = line.split()
                if len(parts) == 3 and parts[0] == path:
                    times.append(int(parts[2]) / 1000)
        if not times:
            return None, None
        return _percentile(times, 50), _percentile(times, 99)

    # --- load --------------------------------------------------------------------------------

    def _drive(self, load, port, spec, concurrency, seconds, workdir) -> Level:
        if load == "wrk":
            return self._wrk(port, spec, concurrency, seconds, workdir)
        return self._python_load(port, spec, concurrency, seconds)

    def _wrk(self, port, spec, concurrency, seconds, workdir: Path) -> Level:
        script = workdir / f"{spec['name']}.lua"
        script.write_text(_lua_script(spec))
        threads = min(concurrency, 2)
        command = [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(concurrency),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}{spec['path']}",
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=False)
        line = next(
            (row for row in output.stdout.splitlines() if row.startswith("BENCH_JSON ")), None
        )
        if line is None:
            raise CommandError(f"wrk failed: {output.stdout[-1000:]} {output.stderr[-1000:]}")
        data = json.loads(line.removeprefix("BENCH_JSON "))
        return Level(
            endpoint=spec["name"],
            concurrency=concurrency,
            requests=data["requests"],
            seconds=data["duration_us"] / 1e6,
            errors=data["errors"],
            non_2xx=data["non2xx"],
            p50_ms=data["p50_us"] / 1000,
            p99_ms=data["p99_us"] / 1000,
        )

    def _python_load(self, port, spec, concurrency, seconds) -> Level:
        import multiprocessing

        # The clients live in a module that imports no Django: a spawned process unpickles
        # its target by importing the target's module, and importing this command's module
        # without django.setup() fails, which left the pool waiting for workers forever.
        context = multiprocessing.get_context("spawn")
        with context.Pool(concurrency) as pool:
            parts = pool.starmap(
                loadgen.closed_loop_client,
                [(port, spec, seconds, index) for index in range(concurrency)],
            )
        latencies = [value for part in parts for value in part["latencies"]]
        return Level(
            endpoint=spec["name"],
            concurrency=concurrency,
            requests=len(latencies),
            seconds=max(part["elapsed"] for part in parts),
            errors=sum(part["errors"] for part in parts),
            non_2xx=sum(part["non_2xx"] for part in parts),
            p50_ms=_percentile(latencies, 50),
            p99_ms=_percentile(latencies, 99),
        )

    # --- output ------------------------------------------------------------------------------

    def _print_level(self, r: Level) -> None:
        server = (
            f"server p50 {r.server_p50_ms:6.2f} ms p99 {r.server_p99_ms:6.2f} ms"
            if r.server_p50_ms is not None
            else "server n/a"
        )
        problems = f"  non-2xx {r.non_2xx} errors {r.errors}" if r.non_2xx or r.errors else ""
        self.stdout.write(
            f"  {r.endpoint:<10} c={r.concurrency:<3} {r.rps:8.0f} req/s  "
            f"p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms  {server}{problems}"
        )

    def _report(self, results: list[Level]) -> None:
        self.stdout.write("")
        header = (
            f"{'endpoint':<10} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'srv p50':>8} {'srv p99':>8} {'non-2xx':>8}"
        )
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for r in results:
            self.stdout.write(
                f"{r.endpoint:<10} {r.concurrency:>4} {r.rps:>8.0f} {r.p50_ms:>8.2f} "
                f"{r.p99_ms:>8.2f} {_fmt(r.server_p50_ms):>8} {_fmt(r.server_p99_ms):>8} "
                f"{r.non_2xx + r.errors:>8}"
            )
        by_key = {(r.endpoint, r.concurrency): r for r in results}
        decisions = [r for r in results if r.endpoint == "decisions"]
        if not decisions:
            return
        best = max(decisions, key=lambda r: r.rps)
        self.stdout.write("")
        self.stdout.write(
            f"decisions: best {best.rps:.0f}/s at concurrency {best.concurrency} "
            f"(target >= 1,000/s on 2 cores); server p99 there "
            f"{_fmt(best.server_p99_ms)} ms (target <= 20 ms)"
        )
        # Each decision figure beside its floors from this run: the same concurrency's
        # health (no key, one SELECT 1) and whoami (the key's lookup, nothing else).
        for r in decisions:
            for floor_name in ("health", "whoami"):
                floor = by_key.get((floor_name, r.concurrency))
                if floor is None or not r.rps:
                    continue
                self.stdout.write(
                    f"  c={r.concurrency:<3} decisions {r.rps:6.0f}/s vs {floor_name} "
                    f"{floor.rps:6.0f}/s: {floor.rps / r.rps:4.1f}x slower (target <= 2x); "
                    f"server p50 {_fmt(r.server_p50_ms)} vs {_fmt(floor.server_p50_ms)} ms"
                )

    def _profile(self, count: int, key: str, ids: list[str], channel: str) -> None:
        from django.test import Client

        client = Client()
        headers = {"HTTP_AUTHORIZATION": f"Token {key}"}
        ApiClient.objects.filter(name=self._key_name).update(is_active=True)
        rng = random.Random(1)

        def run(n: int) -> None:
            for _ in range(n):
                body = {"customer": {"external_id": rng.choice(ids)}, "channel": channel}
                client.post(
                    "/api/v1/decisions/",
                    json.dumps(body),
                    content_type="application/json",
                    **headers,
                )

        # As served: no query logging (DEBUG) in the measured process.
        debug, settings.DEBUG = settings.DEBUG, False
        run(20)  # warm the snapshot
        try:
            from pyinstrument import Profiler
        except ImportError:
            Profiler = None
        self.stdout.write(f"\nprofile of {count} decision requests in-process:")
        if Profiler is not None:
            profiler = Profiler(interval=0.0005)
            profiler.start()
            run(count)
            profiler.stop()
            self.stdout.write(profiler.output_text(unicode=False, color=False, show_all=False))
        else:
            import cProfile
            import io
            import pstats

            profile = cProfile.Profile()
            profile.enable()
            run(count)
            profile.disable()
            buffer = io.StringIO()
            pstats.Stats(profile, stream=buffer).sort_stats("cumulative").print_stats(40)
            self.stdout.write(buffer.getvalue())
        settings.DEBUG = debug
        ApiClient.objects.filter(name=self._key_name).update(is_active=False)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _lua_script(spec: dict[str, Any]) -> str:
    headers = "".join(f'  ["{name}"] = "{value}",\n' for name, value in spec["headers"].items())
    if spec["name"] == "decisions":
        bodies = ",\n".join(
            _lua_string(
                json.dumps({"customer": {"external_id": customer}, "channel": spec["channel"]})
            )
            for customer in spec["ids"]
        )
        request = f"""
bodies = {{
{bodies}
}}
local counter = 0
setup = function(thread) counter = counter + 1; thread:set("seed", counter) end
init = function(args) math.randomseed(os.time() * 1000 + (seed or 0)) end
request = function()
  return wrk.format("{spec["method"]}", "{spec["path"]}", headers, bodies[math.random(#bodies)])
end
"""
    else:
        request = f"""
request = function()
  return wrk.format("{spec["method"]}", "{spec["path"]}", headers)
end
"""
    return f"""
headers = {{
{headers}}}
{request}
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format(
    'BENCH_JSON {{"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, '
    .. '"p50_us": %d, "p99_us": %d}}\\n',
    summary.requests, summary.duration, errors, summary.errors.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _lua_string(text: str) -> str:
    """A Lua string literal for any text: printable ASCII as is, every other byte as \\ddd."""
    out = []
    for byte in text.encode():
        char = chr(byte)
        if 32 <= byte < 127 and char not in '\\"':
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'
