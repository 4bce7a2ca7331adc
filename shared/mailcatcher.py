"""A real SMTP server that keeps what it receives in a Maildir: the region's mail in embedded
mode (``nastavnik up`` when no SMTP server is configured) and in tests. Bound to 127.0.0.1."""

from __future__ import annotations

import mailbox
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from shared.nats_server import free_port


class MailCatcher:
    def __init__(self, folder: Path, port: int = 0) -> None:
        self.folder = folder
        folder.parent.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.controller = Controller(Mailbox(str(folder)), hostname="127.0.0.1", port=self.port)

    def messages(self) -> list[EmailMessage]:
        """What arrived, in order, with headers decoded (``email.policy.default``)."""
        box = mailbox.Maildir(str(self.folder), create=True)
        parser = BytesParser(policy=policy.default)
        keys = sorted(box.keys(), key=lambda key: (box.get_message(key).get_date(), key))
        return [parser.parsebytes(box.get_bytes(key)) for key in keys]

    def __enter__(self) -> MailCatcher:
        self.controller.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.controller.stop()
