"""Pulling from a durable consumer, one request at a time (used by ``shared.consumer``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import Header, StatusCode

#: A pull request ends on the server at its expiry; the client waits this much longer for the end.
PULL_MARGIN_SECONDS = 0.2
#: A request that heard nothing (no message, no heartbeat) for this many heartbeats is taken for
#: lost (the server restarted, the consumer's leader moved) and asked again.
HEARTBEATS_MISSED = 2
#: How long a running consumer's pull waits on the server for the next message. A request ends
#: the moment it is dealt anything, so this bounds only an idle wait, which costs nothing: the
#: next event is handed over as it comes, not at the next poll.
IDLE_PULL_SECONDS = 60.0
#: While a pull waits, the server says so this often; when it falls silent (a restart, a lost
#: connection, a moved leader) the request is asked again after ``HEARTBEATS_MISSED`` of these.
PULL_HEARTBEAT_SECONDS = 10.0
#: How long ``close`` waits for the server to confirm it deals the subscription nothing more.
CLOSE_SECONDS = 2.0


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

    Since a request ends the moment it is dealt anything, its expiry bounds only how long an idle
    durable waits: a long one costs nothing while it waits (no client wake-ups), the server's
    idle heartbeats tell that it is still there. The server deals nothing to a request whose
    reply subject nobody listens to any more, and drops such a request when another one asks
    (``max_waiting`` is no obstacle then), so a replica that stops leaves nothing behind.
    """

    def __init__(self, js: JetStreamContext, stream: str, durable: str,
                 heard: Callable[[], None] = lambda: None) -> None:
        # nats-py keeps the connection and the API prefix (which carries a JetStream domain)
        # private; both have been there since 2.0.
        self.nc = js._nc
        self.subject = f"{js._prefix}.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self.inbox = self.nc.new_inbox()
        self.queue: asyncio.Queue[Msg | None] = asyncio.Queue()
        self.sub: Subscription | None = None
        self.requests = 0
        #: Called whenever the server answers a request, a heartbeat included: the consumer is
        #: alive however long it has been idle.
        self.heard = heard

    async def open(self) -> DurablePull:
        self.sub = await self.nc.subscribe(f"{self.inbox}.*", cb=self._received)
        return self

    async def _received(self, message: Msg) -> None:
        self.queue.put_nowait(message)

    def interrupt(self) -> None:
        """End the ``fetch`` under way at once (the consumer is stopping)."""
        self.queue.put_nowait(None)

    async def interrupt_on(self, stop: asyncio.Event | None) -> None:
        """A stop ends the pull waiting for the next message at once, not at its expiry."""
        await _wait(stop)
        self.interrupt()

    async def fetch(self, batch: int, timeout: float | None = None) -> tuple[list[Msg], bool]:
        """Up to ``batch`` messages (none when idle or interrupted), and whether the server turned
        the request away (another replica's request is waiting, the durable is gone or moving).

        Without ``timeout`` the request waits ``IDLE_PULL_SECONDS`` with heartbeats, and is given
        up before its expiry when the server falls silent.
        """
        heartbeat = PULL_HEARTBEAT_SECONDS if timeout is None else None
        timeout = IDLE_PULL_SECONDS if timeout is None else timeout
        self.requests += 1
        reply = f"{self.inbox}.{self.requests}"
        body: dict[str, Any] = {"batch": batch, "expires": int(timeout * 1e9), "no_wait": True}
        started = time.monotonic()
        end = started + timeout + PULL_MARGIN_SECONDS
        silence = timeout + PULL_MARGIN_SECONDS
        if heartbeat:
            body["idle_heartbeat"] = int(heartbeat * 1e9)
            silence = HEARTBEATS_MISSED * heartbeat + PULL_MARGIN_SECONDS
        await self.nc.publish(self.subject, json.dumps(body).encode(), reply=reply)
        deadline = min(end, started + silence)
        messages: list[Msg] = []
        while len(messages) < batch:
            message = await self._next(deadline)
            if message is None:
                break  # silent past the deadline, or interrupted
            deadline = min(end, time.monotonic() + silence)  # heard from: still there
            self.heard()
            status = message.headers.get(Header.STATUS) if message.headers else None
            if status is None:
                messages.append(message)  # late ones of an earlier request are ours as well
                continue
            if message.subject != reply or status == StatusCode.CONTROL_MESSAGE:
                continue  # the end of an earlier request, or a heartbeat
            description = str((message.headers or {}).get(Header.DESCRIPTION, ""))
            # 404 and 408 "Request Timeout": nothing (more) to hand over. Anything else (408
            # "Requests Pending", 409 "Exceeded MaxWaiting", "Consumer Deleted", 503) turns away.
            ended = status == StatusCode.NO_MESSAGES or (
                status == StatusCode.REQUEST_TIMEOUT and "Pending" not in description)
            return messages, not messages and not ended
        return messages, False  # full (the server ends it silently), silent or interrupted

    async def _next(self, deadline: float) -> Msg | None:
        with contextlib.suppress(asyncio.QueueEmpty):
            return self.queue.get_nowait()
        try:
            return await asyncio.wait_for(self.queue.get(), deadline - time.monotonic())
        except TimeoutError:
            return None

    async def close(self) -> None:
        """Stop pulling; whatever arrived unread goes back for another replica at once.

        The subscription is drained: the server is told to deal it nothing more, and whatever it
        dealt before that arrives before the round trip ends and is given back here; a request
        still waiting is dropped by the server. Only a lost connection leaves messages to come
        back after ``ack_wait``.
        """
        if self.sub is not None:
            with contextlib.suppress(nats.errors.Error, TimeoutError, ConnectionError):
                if self.nc.is_connected:
                    await asyncio.wait_for(self.sub.drain(), CLOSE_SECONDS)
                else:
                    await self.sub.unsubscribe()
        left: list[Msg] = []
        while not self.queue.empty():
            message = self.queue.get_nowait()
            if message is not None and Header.STATUS not in (message.headers or {}):
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
