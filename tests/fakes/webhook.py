"""A webhook receiver: records what it is sent and answers with queued statuses, then 200."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.server import FakeServer


class Receiver(FakeServer):
    """Records what it is sent at /hook; answers with the queued statuses, then 200."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        super().__init__(Starlette(routes=[Route("/hook", self._hook, methods=["POST"])]))

    @property
    def url(self) -> str:
        """The address to add as a webhook channel."""
        return f"{self.base_url}/hook"

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        self.received.append((dict(request.headers), body))
        status = self.statuses.pop(0) if self.statuses else 200
        return Response("ok", status_code=status)
