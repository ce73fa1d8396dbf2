"""Fault tests with real processes: each test owns its Redis, its PostgreSQL database
(reached through a TCP proxy the test controls), its Celery worker and beat, and a
gunicorn when it needs HTTP, so breaking them disturbs nothing else on the machine.

They run only when selected: ``pytest -m faults tests/faults`` (``.ci/run``'s last step).
Anywhere else they are skipped with that reason, so the ordinary suite stays fast.

What the processes share:
- one template database per session (``crosssell_fault_<pid>_tpl``: migrated, seeded
  with ``seed_demo --customers 3000``, one channel API client); each test clones it
  (``CREATE DATABASE … TEMPLATE``, about a second) and drops its clone at the end;
- production settings (Redis as the cache too, JSON logs), with the sweeper made short
  through its environment variables (``FAST_SWEEPER``).

The test itself reads the database directly on 127.0.0.1:5432, never through the proxy.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.faults.proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
SEED_CUSTOMERS = 3000
CHANNELS = "push,sms,email,mobile_app,web"

# Short sweeper settings (defaults 30 s / 60 s / 120 s): the horizon for lost work is
# threshold + interval = 7 s, for a chunk whose worker died lease + interval = 22 s.
FAST_SWEEPER = {
    "CROSSSELL_SWEEPER_INTERVAL_SECONDS": "2",
    "CROSSSELL_SWEEPER_THRESHOLD_SECONDS": "5",
    "CROSSSELL_RUN_CHUNK_LEASE_SECONDS": "20",
}


# --- selection ---------------------------------------------------------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "faults" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(
        reason="fault test with real processes: run `pytest -m faults tests/faults` "
        "(needs redis-server, gunicorn, celery and PostgreSQL on 127.0.0.1:5432)"
    )
    for item in items:
        if "faults" in item.keywords:
            item.add_marker(skip)


class BudgetExceeded(Exception):
    pass


@pytest.fixture(autouse=True)
def wall_clock_budget(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each fault test declares ``pytest.mark.faults(budget_seconds=N)``: past N seconds of
    wall clock (its services' start-up included) it fails instead of hanging."""
    marker = request.node.get_closest_marker("faults")
    budget = marker.kwargs.get("budget_seconds") if marker else None
    if not budget:
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise BudgetExceeded(f"{request.node.name} exceeded its budget of {budget} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(int(budget))
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --- small tools -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], Any], *, seconds: float, what: str, every: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {seconds:.0f} s (last value {value!r})")
        time.sleep(every)


def pg(dbname: str, *, autocommit: bool = True) -> psycopg.Connection:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname, autocommit=autocommit
    )


def _create_database(name: str, template: str | None = None) -> None:
    with pg("postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        suffix = f' TEMPLATE "{template}"' if template else ""
        conn.execute(f'CREATE DATABASE "{name}"{suffix}')


def _drop_database(name: str) -> None:
    with pg("postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Process:
    """A subprocess in its own session (so a kill reaches its children), logging to a file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen | None = None

    def start(self) -> Process:
        handle = self.log.open("ab")
        handle.write(f"\n--- start {datetime.now(UTC).isoformat()}: {self.argv}\n".encode())
        handle.flush()
        self.popen = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        handle.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill_main(self) -> None:
        """SIGKILL the main process only (its children are left as the kernel leaves them)."""
        os.kill(self.pid, signal.SIGKILL)
        assert self.popen is not None
        self.popen.wait(timeout=10)

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def stop(self, *, grace: float = 10.0) -> None:
        """SIGTERM the group, SIGKILL what is left after ``grace`` seconds."""
        if self.popen is None:
            return
        self.kill_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=grace)
        self.kill_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        self.popen = None

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def group_members(pgid: int) -> list[int]:
    """Live pids of a process group (the worker's pool children after its main died)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: Any


def http(method: str, url: str, *, key: str | None = None, body: Any = None) -> HttpAnswer:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Token {key}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, dict(error.headers), error.read()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return HttpAnswer(status, {k.lower(): v for k, v in headers.items()}, parsed)


# --- the template database ---------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    name: str
    api_key: str
    customers: list[str]  # external ids, in primary-key order


def _manage(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _needs(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"fault tests need {', '.join(missing)} on PATH")
    try:
        with pg("postgres"):
            pass
    except psycopg.OperationalError as error:
        pytest.fail(f"fault tests need PostgreSQL on {PG_HOST}:{PG_PORT}: {error}")


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    _needs("redis-server", "gunicorn", "celery")
    name = f"crosssell_fault_{os.getpid()}_tpl"
    _create_database(name)
    var_dir = tmp_path_factory.mktemp("template-var")
    env = _base_env(var_dir) | {
        "DATABASE_URL": f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}",
        "DJANGO_SETTINGS_MODULE": "crosssell.settings.dev",
    }
    try:
        _manage(env, "migrate", "--verbosity", "0")
        _manage(env, "seed_demo", "--customers", str(SEED_CUSTOMERS), "--no-progress")
        key = _manage(
            env, "create_api_client", "--name", "faults", "--role", "channel",
            "--channels", CHANNELS,
        ).strip().splitlines()[-1]  # fmt: skip
        with pg(name) as conn:
            customers = [
                row[0]
                for row in conn.execute("SELECT external_id FROM customers_customer ORDER BY id")
            ]
        yield Template(name=name, api_key=key, customers=customers)
    finally:
        _drop_database(name)


def _base_env(var_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CROSSSELL_", "DJANGO_", "CELERY_", "DATABASE_URL"))
    }
    env.update(
        CROSSSELL_VAR_DIR=str(var_dir),
        PYTHONUNBUFFERED="1",
        # Production settings (Redis cache, JSON logs), reachable over plain HTTP locally.
        DJANGO_SETTINGS_MODULE="crosssell.settings.production",
        DJANGO_SECRET_KEY="fault-tests-" + uuid.uuid4().hex,
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_SECURE_COOKIES="false",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        CROSSSELL_LOG_LEVEL="INFO",
        CROSSSELL_LOG_FORMAT="console",
    )
    return env


# --- one test's services -----------------------------------------------------------------


@dataclass
class Stack:
    """One test's services: Redis, a database behind a proxy, worker, beat, gunicorn."""

    template: Template
    workdir: Path
    database: str
    redis_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    queue: str = field(default_factory=lambda: f"faults-{uuid.uuid4().hex[:8]}")
    proxy: TcpProxy = field(default_factory=lambda: TcpProxy(PG_HOST, PG_PORT))
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, Process] = field(default_factory=dict)

    # environment ---------------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        return (
            _base_env(self.workdir)
            | FAST_SWEEPER
            | {
                "DATABASE_URL": (
                    f"postgres://{PG_USER}@127.0.0.1:{self.proxy.port}/{self.database}"
                ),
                "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                "CROSSSELL_TASK_QUEUE": self.queue,
            }
            | self.extra_env
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def _process(self, name: str, argv: list[str]) -> Process:
        process = Process(name, argv, self.env, self.workdir / f"{name}.log")
        self.processes[name] = process
        return process.start()

    # Redis ------------------------------------------------------------------------------

    def redis_start(self) -> Process:
        process = self._process(
            "redis",
            [
                "redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--daemonize", "no",
            ],
        )  # fmt: skip
        wait_for(self.redis_ping, seconds=10, what="redis-server answering")
        return process

    def redis_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def redis_kill(self) -> None:
        """SIGKILL redis-server: with no persistence, what it held is gone."""
        self.processes["redis"].kill_main()
        wait_for(lambda: not self.redis_ping(), seconds=5, what="redis-server gone")

    # Celery -----------------------------------------------------------------------------

    def worker_start(self, *, wait_ready: bool = True) -> Process:
        """A prefork worker with two processes; waits for its "ready" line (its log grows
        across restarts, so the count of those lines says this start is ready)."""
        log = self.workdir / "worker.log"
        before = self._ready_lines(log)
        process = self._process(
            "worker",
            [
                "celery", "-A", "crosssell", "worker", "--loglevel=INFO", "--concurrency=2",
                "--pool=prefork", "--without-gossip", "--without-mingle",
                "-n", f"{self.queue}@%h",
            ],
        )  # fmt: skip
        if wait_ready:
            wait_for(
                lambda: self._ready_lines(log) > before, seconds=45, what="Celery worker ready"
            )
        return process

    @staticmethod
    def _ready_lines(log: Path) -> int:
        return log.read_text(errors="replace").count(" ready.") if log.exists() else 0

    def beat_start(self) -> Process:
        return self._process(
            "beat",
            [
                "celery", "-A", "crosssell", "beat", "--loglevel=INFO",
                "--schedule", str(self.workdir / "beat-schedule"),
            ],
        )  # fmt: skip

    # HTTP -------------------------------------------------------------------------------

    def web_start(self) -> Process:
        process = self._process(
            "web",
            [
                "gunicorn", "crosssell.wsgi", "--bind", f"127.0.0.1:{self.web_port}",
                "--workers", "2", "--threads", "4", "--timeout", "60",
            ],
        )  # fmt: skip
        wait_for(self._web_answers, seconds=30, what="gunicorn answering /api/v1/health/")
        return process

    def _web_answers(self) -> bool:
        try:
            return self.get("/api/v1/health/").status in (200, 503)
        except OSError:
            return False

    def get(self, path: str, *, key: str | None = None) -> HttpAnswer:
        return http("GET", self.base_url + path, key=key)

    def post(self, path: str, body: Any, *, key: str | None = None) -> HttpAnswer:
        return http("POST", self.base_url + path, key=key or self.template.api_key, body=body)

    # commands and data ------------------------------------------------------------------

    def manage(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
        return _manage(env or self.env, *args, timeout=timeout)

    def db(self) -> psycopg.Connection:
        """A direct connection to this test's database (never through the proxy)."""
        return pg(self.database)

    def scalar(self, sql: str, *params: Any) -> Any:
        with self.db() as conn:
            row = conn.execute(sql, params).fetchone()
            return row[0] if row else None

    def log_lines(self, name: str, *needles: str) -> int:
        """How many lines of a process's log hold every one of ``needles``."""
        log = self.workdir / f"{name}.log"
        if not log.exists():
            return 0
        return sum(
            all(needle in line for needle in needles)
            for line in log.read_text(errors="replace").splitlines()
        )

    def stop_all(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop(grace=5)
        self.proxy.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def stack(template: Template, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """Redis and a cloned database behind a live proxy; the test starts the rest. When the
    test fails (or with CROSSSELL_FAULT_LOGS=1) the tail of every service's log is printed."""
    database = f"crosssell_fault_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    _create_database(database, template=template.name)
    services = Stack(template=template, workdir=tmp_path, database=database)
    services.proxy.start()
    try:
        services.redis_start()
        yield services
    finally:
        services.stop_all()
        logs = {name: p.tail(25) for name, p in services.processes.items()}
        _drop_database(database)
        if request.node.stash.get(FAILED, False) or os.environ.get("CROSSSELL_FAULT_LOGS") == "1":
            for name, text in logs.items():
                print(f"--- {name} log (tail)\n{text}")


def event_body(external_id: str, *, type: str = "payment_failed") -> dict[str, Any]:
    return {
        "event_id": f"fault-{uuid.uuid4().hex}",
        "type": type,
        "occurred_at": datetime.now(UTC).isoformat(),
        "customer": {"external_id": external_id},
        "channel": "mobile_app",
    }


def report(test: str, **figures: Any) -> None:
    """Print the test's figures (pytest -s shows them; .ci/run runs with -s)."""
    print(f"\nFAULT FIGURES {test}: " + json.dumps(figures, sort_keys=True))


BATCH_CAMPAIGN = "BATCH_WEEKLY_CROSS_SELL"


def run_start(stack: Stack, *, chunk_size: int, in_process: bool = False) -> int:
    """Start a run of the demo's batch campaign (``campaign_run_start``); its id.

    ``in_process``: no broker, so the chunks run inside the command (eager Celery)."""
    env = stack.env
    if in_process:
        env = {k: v for k, v in env.items() if k != "CELERY_BROKER_URL"}
        env["DJANGO_SETTINGS_MODULE"] = "crosssell.settings.dev"
    code = (
        "from campaigns.models import Campaign\n"
        "from decisioning.runs.batch import campaign_run_start\n"
        f"campaign = Campaign.objects.get(code={BATCH_CAMPAIGN!r})\n"
        f"run = campaign_run_start(actor='user:faults', campaign=campaign, chunk_size={chunk_size})\n"
        "print(run.pk)\n"
    )
    return int(stack.manage("shell", "-c", code, env=env, timeout=300).strip().splitlines()[-1])


def events_post(stack: Stack, customers: list[str]) -> tuple[list[str], list[HttpAnswer]]:
    """POST one ``payment_failed`` event per customer; (event ids, answers)."""
    ids, answers = [], []
    for external_id in customers:
        body = event_body(external_id)
        ids.append(body["event_id"])
        answers.append(stack.post("/api/v1/events/", body))
    return ids, answers


def events_by_status(stack: Stack, event_ids: list[str]) -> dict[str, int]:
    with stack.db() as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM customers_event WHERE event_id = ANY(%s) GROUP BY status",
            (event_ids,),
        ).fetchall()
    return dict(rows)


def event_duplicates(stack: Stack, event_ids: list[str]) -> dict[str, int]:
    """What "processed more than once" would leave: a second decision for one (event,
    campaign), a second message for one (decision, offer, channel), a second event row."""
    with stack.db() as conn:
        decisions = conn.execute(
            "SELECT count(*) FROM (SELECT d.event_id, d.campaign_id FROM decisioning_decision d "
            "JOIN customers_event e ON e.id = d.event_id WHERE e.event_id = ANY(%s) "
            "GROUP BY 1, 2 HAVING count(*) > 1) x",
            (event_ids,),
        ).fetchone()[0]
        messages = conn.execute(
            "SELECT count(*) FROM (SELECT m.decision_id, m.offer_id, m.channel "
            "FROM decisioning_message m JOIN decisioning_decision d ON d.id = m.decision_id "
            "JOIN customers_event e ON e.id = d.event_id WHERE e.event_id = ANY(%s) "
            "GROUP BY 1, 2, 3 HAVING count(*) > 1) x",
            (event_ids,),
        ).fetchone()[0]
        rows = conn.execute(
            "SELECT count(*) - count(DISTINCT event_id) FROM customers_event "
            "WHERE event_id = ANY(%s)",
            (event_ids,),
        ).fetchone()[0]
        decided = conn.execute(
            "SELECT count(DISTINCT d.event_id) FROM decisioning_decision d "
            "JOIN customers_event e ON e.id = d.event_id WHERE e.event_id = ANY(%s)",
            (event_ids,),
        ).fetchone()[0]
    return {
        "duplicate_decisions": decisions,
        "duplicate_messages": messages,
        "duplicate_event_rows": rows,
        "events_with_decisions": decided,
    }


def all_processed(stack: Stack, event_ids: list[str]) -> bool:
    return events_by_status(stack, event_ids).get("processed", 0) == len(event_ids)
