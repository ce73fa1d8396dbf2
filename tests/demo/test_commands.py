"""``seed_demo`` and ``demo`` from the command line, and the demo's extension points."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from demo.pipeline import (
    DemoContext,
    DemoOptions,
    DemoStep,
    run_steps,
    summary_lines,
)
from demo.progress import CommandStream, progress_bar
from tests.demo.conftest import AS_OF
from tests.factories import CustomerFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_seed_demo_refuses_a_bank_that_already_has_customers():
    CustomerFactory()
    with pytest.raises(CommandError, match="already has 1 customers"):
        call_command("seed_demo", customers=10, no_progress=True, stdout=io.StringIO())


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"customers": 0}, "customers: must be between 1"),
        ({"customers": 10, "as_of": "01/06/2025"}, "--as-of must be a date as YYYY-MM-DD"),
    ],
)
def test_seed_demo_validates_its_arguments(options, message):
    with pytest.raises(CommandError, match=message):
        call_command("seed_demo", no_progress=True, stdout=io.StringIO(), **options)


@pytest.mark.django_db
def test_seed_demo_reports_rows_keys_and_logins():
    out, err = io.StringIO(), _Terminal()
    call_command("seed_demo", customers=40, seed=3, as_of="2025-06-01", stdout=out, stderr=err)
    text = out.getvalue()
    assert "Seeded 40 customers (seed 3, as of 2025-06-01)" in text
    assert "customers.Customer" in text and "decisioning.Response" in text
    assert "sms             demo-sms             key cs_" in text
    assert "maria    password maria-demo" in text
    assert "Seeding customers: 100%" in err.getvalue() and "40/40" in err.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("no_progress", "stderr"),
    [(True, lambda: _Terminal()), (False, io.StringIO)],
    ids=["no-progress on a terminal", "stderr not a terminal"],
)
def test_seed_demo_draws_no_bar_with_no_progress_or_off_a_terminal(no_progress, stderr):
    err = stderr()
    call_command(
        "seed_demo", customers=5, no_progress=no_progress, stdout=io.StringIO(), stderr=err
    )
    assert err.getvalue() == ""


@pytest.mark.django_db
def test_demo_steps_run_in_order_and_report_into_the_summary():
    out = io.StringIO()
    ran: list[str] = []

    def first(ctx: DemoContext) -> None:
        ran.append("first")
        with ctx.progress(3, "Counting") as bar:
            bar.update(3)

    def second(ctx: DemoContext) -> None:
        ran.append("second")
        ctx.report("Weekly batch run", ["42 decisions stored"])

    ctx = DemoContext(
        options=DemoOptions(customers=1, seed=1, as_of=AS_OF, serve=False),
        stdout=_Lines(out),
        stderr=io.StringIO(),
    )
    run_steps(ctx, [DemoStep("First", first), DemoStep("Second", second)])
    assert ran == ["first", "second"]
    assert "[1/2] First" in out.getvalue() and "[2/2] Second" in out.getvalue()
    lines = summary_lines(ctx)
    assert "Weekly batch run:" in lines
    assert "  42 decisions stored" in lines


@pytest.mark.parametrize("show_progress", [True, False])
def test_demo_progress_is_drawn_on_stderr_unless_switched_off(show_progress):
    terminal = _Terminal()
    ctx = DemoContext(
        options=DemoOptions(
            customers=1, seed=1, as_of=AS_OF, serve=False, show_progress=show_progress
        ),
        stdout=_Lines(io.StringIO()),
        stderr=terminal,
    )
    with ctx.progress(4, "Weekly batch", unit="customers") as bar:
        bar.update(4)
    assert ("Weekly batch: 100%" in terminal.getvalue()) is show_progress


class _Lines:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def write(self, line: str) -> None:
        self.stream.write(line + "\n")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_one_line_on_a_terminal_and_draws_nothing_elsewhere():
    terminal = _Terminal()
    with progress_bar(10, "Seeding", terminal, unit="customers") as bar:
        for _ in range(10):
            bar.update(1)
    drawn = terminal.getvalue()
    assert drawn.count("\n") == 1 and drawn.startswith("\r")
    assert "Seeding: 100%" in drawn and "10/10" in drawn and "customers/s" in drawn

    log = io.StringIO()  # a log file, a pipe, the test runner
    with progress_bar(10, "Seeding", log) as bar:
        bar.update(10)
    assert log.getvalue() == ""
    with progress_bar(10, "Seeding", None) as bar:  # --no-progress: a null bar
        bar.update(10)
    assert bar.disable


def test_a_command_stream_writes_without_the_newline_django_appends():
    from django.core.management.base import OutputWrapper

    class Utf8Terminal(_Terminal):
        encoding = "utf-8"  # tqdm draws Unicode blocks on it

    terminal = Utf8Terminal()
    stream = CommandStream(OutputWrapper(terminal))
    stream.write("\rhalf")
    stream.write("\rdone")
    assert terminal.getvalue() == "\rhalf\rdone"
    assert stream.isatty() and stream.encoding == "utf-8"


def test_demo_runs_end_to_end_on_a_fresh_sqlite_database(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")
    }
    env["CROSSSELL_VAR_DIR"] = str(tmp_path)
    command = [sys.executable, "manage.py", "demo", "--no-serve", "--customers", "300"]
    command += ["--as-of", "2025-06-01"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert (tmp_path / "crosssell.sqlite3").exists()
    assert "[1/11] Migrate the database" in out
    assert "[11/11] Seal and verify the audit ledger" in out
    assert "Audit ledger (verify_audit):" in out and "every hash recomputed" in out
    assert "applying" in out and "migrations to" in out
    assert "seeded 300 customers (seed 42, as of 2025-06-01)" in out
    assert (
        "Products:   21 (cards 5, loans 4, mortgages 3, deposits 3, insurance 3, investments 3)"
        in out
    )
    assert "Offers:     25 (sales 22, service 3)" in out
    assert "Campaigns:  9 (batch running 1, inbound running 1, realtime running 7)" in out
    assert "Triggers:   RT_FUEL_CARD fired on" in out
    assert "Customers:  300 with" in out
    assert "Consents granted: push" in out
    assert "Responses:" in out and "accept" in out
    # the summary's model lines (300 customers are too few for a model: the fallback)
    assert "Models:     " in out and "Propensity models (held-out ROC AUC and Brier" in out
    assert "branch          demo-branch          key cs_" in out
    assert "Console: http://127.0.0.1:8000/" in out
    assert "carlos / carlos-demo" in out
    # The pipeline ran: the weekly batch over every customer, signals, present customers.
    assert "Weekly batch run #1 of BATCH_WEEKLY_CROSS_SELL (completed):" in out
    assert "300 customers decided" in out
    assert "batch        300 decisions" in out
    assert "event " in out and "inbound " in out
    assert "nothing released because:" in out
    # the seams: send time re-decides every message; erasure leaves nothing behind
    assert "Send time: every message re-decided by the engine's rulebook" in out
    assert "refused at send time:" in out and "rerouted to a channel" in out
    assert "owed service actions shown on an inbound visit:" in out
    assert "former e-mail, phone or name in any of them: none" in out
    assert "a decision for them by their erased reference: refused" in out
    assert "stored without the e-mail" in out
    assert "An inbound decision, explained:" in out

    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "already has 300 customers: not seeding again" in again.stdout
    assert "database up to date" in again.stdout
    assert "key cs_" in again.stdout and "(shown only when created" in again.stdout
