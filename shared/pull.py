"""Pulling from a durable consumer, one request at a time (used by ``shared.consumer``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Sequence

import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import Header, StatusCode

#: A pull request ends on the server at its expiry; the client waits this much longer for the end.
PULL_MARGIN_SECONDS = 0.2


async def _wait(stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.Event().wait()
    else:
        await stop.wait()


async def _nak(messages: Sequence[Msg]) -> None:
    """Give messages back for redelivery; on a lost connection ``ack_wait`` does it instead."""
    for message in messages:
        with contextlib.suppress(nats.errors.Error, ConnectionError):
            await message.nak()


class DurablePull:
    """One-shot pull requests on a durable, ``no_wait`` with ``expires``: the server waits up to
    ``expires`` for messages, hands over what there is at once and ends the request.

    nats-py's ``fetch`` falls back to a lingering request for a whole batch; with replicas on one
    durable such requests hold parts of a batch each (the server deals waiting requests messages
    in turn) while the rest cannot come (``max_ack_pending``), and every hand-over stalled a whole
    fetch timeout. The durable admits one waiting request (``max_waiting=1``), so one replica at
    a time is dealt messages, always in stream order; the others are turned away and ask again.
    """

    def __init__(self, js: JetStreamContext, stream: str, durable: str) -> None:
        # nats-py keeps the connection and the API prefix (which carries a JetStream domain)
        # private; both have been there since 2.0.
        self.nc = js._nc
        self.subject = f"{js._prefix}.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self.inbox = self.nc.new_inbox()
        self.queue: asyncio.Queue[Msg] = asyncio.Queue()
        self.sub: Subscription | None = None
        self.requests = 0
        self.open_request: tuple[str, float] | None = None  # reply subject, when it surely ended

    async def open(self) -> DurablePull:
        self.sub = await self.nc.subscribe(f"{self.inbox}.*", cb=self._received)
        return self

    async def _received(self, message: Msg) -> None:
        self.queue.put_nowait(message)

    async def fetch(self, batch: int, timeout: float) -> tuple[list[Msg], bool]:
        """Up to ``batch`` messages (none when idle), and whether the server turned the request
        away (another replica's request is waiting, the durable is gone or moving)."""
        self.requests += 1
        reply = f"{self.inbox}.{self.requests}"
        body = {"batch": batch, "expires": int(timeout * 1e9), "no_wait": True}
        deadline = time.monotonic() + timeout + PULL_MARGIN_SECONDS
        self.open_request = (reply, deadline)
        await self.nc.publish(self.subject, json.dumps(body).encode(), reply=reply)
        messages: list[Msg] = []
        while len(messages) < batch:
            message = await self._next(deadline)
            if message is None:
                break
            status = message.headers.get(Header.STATUS) if message.headers else None
            if status is None:
                messages.append(message)  # late ones of an earlier request are ours as well
                continue
            if message.subject != reply or status == StatusCode.CONTROL_MESSAGE:
                continue  # the end of an earlier request, or a heartbeat
            self.open_request = None
            description = str((message.headers or {}).get(Header.DESCRIPTION, ""))
            # 404 and 408 "Request Timeout": nothing (more) to hand over. Anything else (408
            # "Requests Pending", 409 "Exceeded MaxWaiting", "Consumer Deleted", 503) turns away.
            ended = status == StatusCode.NO_MESSAGES or (
                status == StatusCode.REQUEST_TIMEOUT and "Pending" not in description)
            return messages, not messages and not ended
        self.open_request = None  # full (the server ends it silently) or past its expiry
        return messages, False

    async def _next(self, deadline: float) -> Msg | None:
        with contextlib.suppress(asyncio.QueueEmpty):
            return self.queue.get_nowait()
        try:
            return await asyncio.wait_for(self.queue.get(), deadline - time.monotonic())
        except TimeoutError:
            return None

    async def close(self) -> None:
        """Stop pulling; whatever arrived unread goes back for another replica at once.

        A request cut short (a cancelled task) stays waiting on the server, which does not check
        for a listener before dealing it messages: those would be lost to the void until
        ``ack_wait``. So its end is awaited here, briefly, and what it brought given back.
        """
        left: list[Msg] = []
        if self.open_request is not None and self.nc.is_connected:
            reply, deadline = self.open_request
            with contextlib.suppress(Exception):
                while (message := await self._next(deadline)) is not None:
                    headers = message.headers or {}
                    if Header.STATUS not in headers:
                        left.append(message)
                    elif message.subject == reply:
                        break
        if self.sub is not None:
            with contextlib.suppress(nats.errors.Error):
                await self.sub.unsubscribe()
        while not self.queue.empty():
            message = self.queue.get_nowait()
            if Header.STATUS not in (message.headers or {}):
                left.append(message)
        await _nak(left)


def durable_for(service: str | None, projection: str) -> str:
    """The durable a service's read model binds on every stream it reads: ``<service>_<model>``.

    Fixed, so that the NATS permissions can name each service's durables and no other service
    may delete or change them (``deploy.tools.nats_auth.js_own_durables``; a permission's
    wildcard covers whole subject tokens only, so a prefix would not do). Replicas sharing the
    read model's database share it; one deployment per JetStream domain, as every stream's name
    is one per deployment already. Letters, digits and underscores only (no dots, wildcards).
    """
    if service and projection.startswith(f"{service}-"):
        projection = projection[len(service) + 1:]
    name = f"{service}_{projection}" if service else projection
    return re.sub(r"[^A-Za-z0-9_]", "_", name)[:60]
