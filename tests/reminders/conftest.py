"""The real servers the reminder tests talk to: an SMTP sink (aiosmtpd on a fixed loopback port), a
private redis-server that a test may stop and start, and real Celery worker processes.

Every message the sink receives during the session is kept in `SESSION_MESSAGES`, so that one test at
the end can read all of them (test_zz_every_message.py).
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import email
import email.message
import email.policy
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from aiosmtpd.controller import Controller
from django.db import connection

from b12clinic.celery import app as celery_app
from care.models import CareStatus
from patients.models import Patient
from reminders.models import ReminderSettings
from tests.conftest import _require_server, reachable_redis_url

ROOT = Path(__file__).resolve().parents[2]
logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command

# Every message any test made the sink receive, in order (read by test_zz_every_message.py).
SESSION_MESSAGES: list[email.message.EmailMessage] = []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll until `condition()` is truthy; its value, or AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {condition}")
        time.sleep(interval)


# SMTP ----------------------------------------------------------------------------------------------


class _Handler:
    """Accepts every message, except for recipients the test told it to refuse (4xx or 5xx); on the
    test's word it holds its reply to DATA, or drops the connection after DATA (message stored)."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str, responses: list) -> list:  # noqa: N802
        session.host_name = hostname
        with self.sink.lock:
            self.sink.sessions += 1
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list) -> str:  # noqa: N802
        reply = self.sink.refuse.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.sink.lock:
            self.sink.messages.append(message)  # type: ignore[arg-type]
            SESSION_MESSAGES.append(message)  # type: ignore[arg-type]
            drop = self.sink.drop_after_data > 0
            self.sink.drop_after_data -= drop
        if self.sink.reply_delay:
            await asyncio.sleep(self.sink.reply_delay)
        if self.sink.hold.is_set():  # stored, but the client does not know yet
            self.sink.holding.set()
            while self.sink.hold.is_set():
                await asyncio.sleep(0.02)
        if drop:  # the message is stored; the client never hears so
            server.transport.abort()
            return "421 closing"  # written to a closed transport: never arrives
        return "250 Message accepted"


@dataclass
class SmtpSink:
    """A real SMTP server on 127.0.0.1:`port` that can be stopped and started again on the same port."""

    port: int
    messages: list[email.message.EmailMessage] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    controller: Controller | None = None
    # Faults: drop the connection after the next N messages' DATA (each stored); while `hold` is set,
    # store each message and keep its reply back (`holding` is set once one is held).
    drop_after_data: int = 0
    reply_delay: float = 0.0  # seconds before each reply to DATA (a slow server)
    sessions: int = 0  # SMTP sessions opened (EHLO) since the last clear
    hold: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        if self.controller is None:
            self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
            self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.sessions = 0
            self.drop_after_data = 0
            self.reply_delay = 0.0
        self.refuse.clear()
        self.hold.clear()
        self.holding.clear()

    def received(self) -> list[email.message.EmailMessage]:
        with self.lock:
            return list(self.messages)

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.received()]

    def copies(self) -> collections.Counter[str]:
        """How many times the server received each Message-ID."""
        return collections.Counter(self.message_ids())


@pytest.fixture(scope="session")
def smtp_session() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port())  # fixed for the session: workers are told it once
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp(smtp_session: SmtpSink, settings: Any) -> Iterator[SmtpSink]:
    """The sink, empty and running, with this process's mail going to it by SMTP."""
    smtp_session.start()
    smtp_session.clear()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_session.port
    settings.EMAIL_TIMEOUT = 5
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield smtp_session
    smtp_session.start()  # a test that stopped it leaves it running for the next
    smtp_session.clear()


# Reminder data -------------------------------------------------------------------------------------


@pytest.fixture
def reminder_settings(db: None) -> ReminderSettings:
    """The clinic's settings: remind 3 days before and after, and (for tests on the wall clock) all day."""
    config = ReminderSettings.load()
    config.window_start_hour, config.window_end_hour = 0, 24
    config.save()
    return config


@pytest.fixture
def due_patient(make_patient: Callable[..., Patient]) -> Callable[..., Patient]:
    """A consenting patient with an email whose stored care status says an injection is due on `due`."""
    counter = iter(range(1, 10_000))

    def make(due: datetime.date, *, recheck: datetime.date | None = None, **overrides: Any) -> Patient:
        number = next(counter)
        values: dict[str, Any] = {
            "given_name": f"Pat{number}",
            "email": f"patient{number}@example.org",
            "email_reminders_consent": True,
        }
        values.update(overrides)
        patient = make_patient(**values)
        set_due(patient, injection=due, recheck=recheck)
        return patient

    return make


def set_due(patient: Patient, *, injection: datetime.date | None, recheck: datetime.date | None = None) -> None:
    """The stored care status (derived data) as the engine would leave it for a maintenance patient."""
    CareStatus.objects.filter(patient=patient).update(
        phase="maintenance", next_injection_due=injection, next_recheck_due=recheck
    )


# Redis and Celery workers --------------------------------------------------------------------------


def _shared_redis_url() -> str:
    url = reachable_redis_url()
    # A database of its own, so nothing these tests queue can meet another Celery app's workers.
    return urlunsplit(urlsplit(url)._replace(path="/13"))


@dataclass
class PrivateRedis:
    """A redis-server of our own (no persistence), that a test may stop and start; never the shared one."""

    port: int
    directory: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if self.process is not None:
            return
        binary = shutil.which("redis-server")
        if binary is None:
            _require_server("redis-server", "install redis-server to run the broker-outage test")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(port=free_port(), directory=tmp_path)
    server.start()
    yield server
    server.stop()


@dataclass
class Broker:
    url: str
    queue: str


_CONF_KEYS = ("broker_url", "task_default_queue", "broker_transport_options", "broker_connection_timeout")


def _reset_celery_connections() -> None:
    from kombu import pools

    pools.reset()  # kombu keeps one pool per broker URL for the whole process
    celery_app._pool = None
    celery_app.__dict__.pop("amqp", None)  # rebuilt from the conf: default queue, producer pool


def use_broker(url: str, queue: str) -> Callable[[], None]:
    """Point this process's Celery app at `url`, queueing on `queue`; returns the undo."""
    saved = {key: celery_app.conf.get(key) for key in _CONF_KEYS}
    saved_environment = os.environ.get("CELERY_BROKER_URL")
    # Celery reads CELERY_BROKER_URL from the environment before its configuration.
    os.environ["CELERY_BROKER_URL"] = url
    celery_app.conf.update(
        broker_url=url, task_default_queue=queue, broker_transport_options={}, broker_connection_timeout=2
    )
    _reset_celery_connections()

    def undo() -> None:
        if saved_environment is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved_environment
        celery_app.conf.update(saved)
        _reset_celery_connections()

    return undo


def purge(url: str, queue: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.delete(
            queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}", *client.keys(f"{queue}\x06*")
        )
    except redis.exceptions.ConnectionError:
        pass
    finally:
        client.close()


def _database_url() -> str:
    """The test database, as the worker processes must see it (pytest-django has switched NAME)."""
    values = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{values['NAME']}"
    auth = values["USER"] or ""
    if values.get("PASSWORD"):
        auth += f":{values['PASSWORD']}"
    host = f"{auth}@" if auth else ""
    return f"postgres://{host}{values['HOST'] or '127.0.0.1'}:{values['PORT'] or 5432}/{values['NAME']}"


@dataclass
class Worker:
    name: str
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """kill -9: no shutdown, no acknowledgement, no record."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def children(self) -> list[int]:
        """The pool's child processes (prefork)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                found.append(int(stat.parent.name))
        return found


def start_workers(
    *,
    count: int,
    broker_url: str,
    queue: str,
    smtp_port: int,
    directory: Path,
    pool: str = "solo",
    environment: dict[str, str] | None = None,
) -> list[Worker]:
    """`count` real `celery worker` processes on `queue`, using the test database and the SMTP sink."""
    extra = environment or {}
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "b12clinic.settings",
        "DATABASE_URL": _database_url(),
        "CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": broker_url,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_TIMEOUT": "5",
        "EMAIL_USE_TLS": "0",  # the sink speaks plain SMTP (production defaults to STARTTLS)
        "VAR_DIR": str(directory / "var"),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    workers = []
    for number in range(count):
        name = f"reminders-test-{number}-{uuid.uuid4().hex[:6]}"
        log = directory / f"{name}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "celery", "-A", "b12clinic", "worker"),
                    *("--pool", pool, "--concurrency", "1", "-Q", queue, "-n", f"{name}@%h"),
                    *("--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "info"),
                ],
                cwd=ROOT,
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        workers.append(Worker(name, process, log))
    try:
        for worker in workers:
            wait_for(lambda w=worker: " ready." in w.output() or w.process.poll() is not None, timeout=60)
            assert worker.process.poll() is None, worker.output()
    except BaseException:
        for worker in workers:
            worker.stop()
        raise
    return workers


def restore_migrated_rows() -> None:
    """Put back what the migrations created (built-in protocol profiles, role groups and their
    permissions) after a transactional test's flush removed it; idempotent."""
    from django.apps import apps
    from django.contrib.auth.models import Group, Permission

    from accounts import roles
    from protocols.models import ProtocolProfile

    if not ProtocolProfile.objects.exists():
        import_module("protocols.migrations.0002_builtin_profiles").create_builtin_profiles(apps, None)
    roles.grant_role_permissions(Group, Permission)


@pytest.fixture(scope="module")
def migrated_rows(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """For modules of transactional tests (the workers only see committed rows). The flush after each
    test removes the migrations' rows; `migrated_rows_each` puts them back before each test, and this
    puts them back after the module, for whatever test comes next."""
    yield
    with django_db_blocker.unblock():
        restore_migrated_rows()


@pytest.fixture
def migrated_rows_each(migrated_rows: None, transactional_db: None) -> None:
    restore_migrated_rows()


@dataclass
class Workers:
    broker: Broker
    workers: list[Worker]

    def logs(self) -> str:
        return "\n".join(w.output() for w in self.workers)


@pytest.fixture(scope="module")
def celery_workers(
    django_db_setup: None, django_db_blocker: Any, smtp_session: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workers]:
    """Two worker processes against the real (shared) Redis, on a queue of their own, for the module."""
    broker = Broker(url=_shared_redis_url(), queue=f"reminders-test-{uuid.uuid4().hex[:8]}")
    with django_db_blocker.unblock():
        workers = start_workers(
            count=2,
            broker_url=broker.url,
            queue=broker.queue,
            smtp_port=smtp_session.port,
            directory=tmp_path_factory.mktemp("workers"),
        )
    undo = use_broker(broker.url, broker.queue)
    try:
        yield Workers(broker, workers)
    finally:
        undo()
        for worker in workers:
            worker.stop()
        purge(broker.url, broker.queue)
