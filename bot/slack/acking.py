"""Slack hears back the moment a listener acks, not at bolt's next look.

Left to itself, bolt runs a listener beside the request and looks for its ack every
10 ms: every answer waited for the next look (about 12 ms at the median, even for an app
that only acks), and each request in flight woke the event loop a hundred times a
second. With `process_before_response`, bolt answers when the listener returns. Each
listener wrapped here returns as soon as it has acked and goes on in a task of its own;
what fails after the ack goes to the app's error handler, as bolt would send it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

# As bolt's own ack_timeout: a listener that has not acked by then is answered without.
ACK_SECONDS = 3.0

Listener = Callable[..., Awaitable[None]]
ErrorHandler = Callable[[Exception, dict[str, Any]], Awaitable[None]]


class AckedAtOnce:
    """Wraps listeners so the request is answered at their ack; keeps what goes on after."""

    def __init__(self, on_error: ErrorHandler, *, ack_seconds: float = ACK_SECONDS) -> None:
        self.on_error = on_error
        self.ack_seconds = ack_seconds
        self._going_on: set[asyncio.Future[None]] = set()

    def __call__(self, listener: Listener) -> Listener:
        """The listener, returning once it has acked (or ended, whichever comes first)."""

        # bolt reads the arguments to pass from the wrapped listener (inspect.unwrap).
        @functools.wraps(listener)
        async def until_acked(**arguments: Any) -> None:
            ack = arguments["ack"]
            acked = asyncio.Event()

            async def ack_and_go_on(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await ack(*args, **kwargs)
                finally:
                    acked.set()

            arguments["ack"] = ack_and_go_on
            body = arguments.get("body") or {}
            work = asyncio.ensure_future(listener(**arguments))
            said = asyncio.ensure_future(acked.wait())
            try:
                await asyncio.wait(
                    {work, said}, timeout=self.ack_seconds, return_when=asyncio.FIRST_COMPLETED
                )
            except asyncio.CancelledError:
                # The request was cut off (shutdown): the listener still ends, and is told.
                if not work.done():
                    self._keep(work, body)
                raise
            finally:
                said.cancel()
            if work.done() and not acked.is_set():
                work.result()  # failed before its ack: bolt answers 500 and calls app.error
                return
            if not acked.is_set():
                log.warning("a Slack listener did not ack in %g s: answered", self.ack_seconds)
            self._keep(work, body)

        return until_acked

    def _keep(self, work: asyncio.Future[None], body: dict[str, Any]) -> None:
        self._going_on.add(work)
        work.add_done_callback(functools.partial(self._ended, body=body))

    def _ended(self, work: asyncio.Future[None], *, body: dict[str, Any]) -> None:
        self._going_on.discard(work)
        if work.cancelled():
            return
        error = work.exception()
        if isinstance(error, Exception):
            told = asyncio.ensure_future(self._tell(error, body))
            self._going_on.add(told)
            told.add_done_callback(self._going_on.discard)

    async def _tell(self, error: Exception, body: dict[str, Any]) -> None:
        try:
            await self.on_error(error, body)
        except Exception:
            log.exception("a Slack listener failed after its ack, and so did telling the person")

    async def wait(self, timeout: float) -> None:
        """Give what goes on after the acks up to `timeout` seconds to end (at shutdown),
        telling people of failures included (they start as the work ends)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self._going_on and (left := end - loop.time()) > 0:
            await asyncio.wait(set(self._going_on), timeout=left)
            await asyncio.sleep(0)  # the ended ones' callbacks: dropped, their people told
