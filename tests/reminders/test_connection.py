"""Reminders go out over one SMTP session per process, reopened once when the server dropped it."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from django.core.mail import EmailMultiAlternatives

from reminders import emails


class CountingHandler:
    def __init__(self) -> None:
        self.sessions = 0
        self.messages = 0
        self.noops = 0
        self.drop_after_data = False

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802 (aiosmtpd's name)
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_NOOP(self, server, session, envelope, arg):  # noqa: N802
        self.noops += 1
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages += 1
        if self.drop_after_data:  # stored, then the connection is gone before the reply
            server.transport.abort()
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A counting SMTP server on a fixed port that can be stopped and started again."""

    def __init__(self) -> None:
        self.handler = CountingHandler()
        self.port = _free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)  # one use each
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp(settings) -> Iterator[Server]:
    server = Server()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.port, 5
    emails.close_connection()
    yield server
    emails.close_connection()
    server.stop()


def _message(n: int) -> EmailMultiAlternatives:
    return EmailMultiAlternatives(subject=f"m{n}", body="x", from_email="a@example.org", to=["b@example.org"])


def test_it_sends_many_messages_over_one_session_checking_it_before_each_reuse(smtp: Server) -> None:
    for n in range(5):
        emails.send(_message(n))
    assert (smtp.handler.sessions, smtp.handler.messages, smtp.handler.noops) == (1, 5, 4)


def test_it_reopens_a_session_the_server_dropped(smtp: Server) -> None:
    emails.send(_message(1))
    smtp.stop()  # the server goes away (as an idle timeout would close the session)...
    smtp.start()  # ...and is back: the stale session is replaced once, nothing is lost
    emails.send(_message(2))
    assert (smtp.handler.sessions, smtp.handler.messages) == (2, 2)


def test_an_error_closes_the_session_and_is_raised(smtp: Server) -> None:
    emails.send(_message(1))
    smtp.stop()
    with pytest.raises(OSError):  # reopening fails too: the caller retries later (a temporary error)
        emails.send(_message(2))
    smtp.start()
    emails.send(_message(3))  # a fresh session once the server is back
    assert smtp.handler.messages == 2


def test_a_disconnect_after_data_is_raised_not_resent(smtp: Server) -> None:
    emails.send(_message(1))
    smtp.handler.drop_after_data = True
    with pytest.raises(smtplib.SMTPServerDisconnected):  # the outbox retries it later, or not at all
        emails.send(_message(2))
    assert (smtp.handler.sessions, smtp.handler.messages) == (1, 2)  # no second copy, no new session
    smtp.handler.drop_after_data = False
    emails.send(_message(3))
    assert (smtp.handler.sessions, smtp.handler.messages) == (2, 3)


def test_a_batch_checks_a_reused_session_once_then_sends_without_a_check_between_messages(smtp: Server) -> None:
    emails.send(_message(0))  # a session left open by an earlier batch
    batch = emails.Session()
    for n in range(1, 6):
        batch.send(_message(n))
    assert (smtp.handler.sessions, smtp.handler.messages, smtp.handler.noops) == (1, 6, 1)


def test_a_batch_whose_session_cannot_be_opened_tries_no_more_and_says_nothing_was_handed_over(
    smtp: Server,
) -> None:
    smtp.stop()
    batch = emails.Session()
    with pytest.raises(OSError) as refused:
        batch.send(_message(1))
    smtp.start()  # back, but this batch does not ask again: its rows are retried after the backoff
    with pytest.raises(OSError) as again:
        batch.send(_message(2))
    assert again.value is refused.value and batch.never_opened(refused.value)
    assert (smtp.handler.sessions, smtp.handler.messages) == (0, 0)
    emails.Session().send(_message(3))  # the next batch opens a session
    assert (smtp.handler.sessions, smtp.handler.messages) == (1, 1)


def test_a_batch_goes_on_over_a_new_session_after_a_disconnect_without_resending(smtp: Server) -> None:
    batch = emails.Session()
    batch.send(_message(1))
    smtp.handler.drop_after_data = True
    with pytest.raises(smtplib.SMTPServerDisconnected) as dropped:
        batch.send(_message(2))
    assert not batch.never_opened(dropped.value)  # mid-send: the server may have it
    smtp.handler.drop_after_data = False
    batch.send(_message(3))
    assert (smtp.handler.sessions, smtp.handler.messages) == (2, 3)
