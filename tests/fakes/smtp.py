"""A real SMTP server in the test process (aiosmtpd): records what arrives, and can refuse
an address for good, defer the next messages, or count connections."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Arrived:
    """One message as the server accepted it."""

    sender: str
    recipients: list[str]
    message: EmailMessage

    def part(self, subtype: str) -> str:
        """The text of the text/plain or text/html part."""
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        return str(body.get_content())


@dataclass
class MailServer:
    """aiosmtpd on a free local port, with a handler the test steers."""

    refused: dict[str, str] = field(default_factory=dict)  # address -> "550 …"
    deferred: list[str] = field(default_factory=list)  # answers to the next DATA: "421 …"
    sender_refused: str | None = None  # the answer to every MAIL FROM: "530 5.7.0 …"
    arrived: list[Arrived] = field(default_factory=list)
    connections: int = 0
    # Like Office 365: this many recipients a minute by `clock`, then 452 to the rest.
    per_minute: int | None = None
    clock: Callable[[], datetime] | None = None
    too_many: int = 0  # 452s answered
    _window: tuple[datetime, int] | None = None  # its start, recipients taken in it

    def __post_init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        """SMTP_URL for Herald."""
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_EHLO(  # noqa: N802 - aiosmtpd's hook names
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_MAIL(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.sender_refused is not None:
            return self.sender_refused
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refused:
            return self.refused[address]
        if self.per_minute is not None and not self._within_the_minute():
            self.too_many += 1
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def _within_the_minute(self) -> bool:
        assert self.clock is not None
        assert self.per_minute is not None
        now = self.clock()
        if self._window is None or now - self._window[0] >= timedelta(minutes=1):
            self._window = (now, 0)
        start, taken = self._window
        if taken >= self.per_minute:
            return False
        self._window = (start, taken + 1)
        return True

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.deferred:
            return self.deferred.pop(0)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.arrived.append(Arrived(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def __enter__(self) -> MailServer:
        self._controller.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._controller.stop()
