"""Webhooks: a signed JSON event per public update, in a versioned schema."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.delivery.errors import (
    ChannelGone,
    RateLimited,
    Rejected,
    Unavailable,
    retry_after_seconds,
)
from bot.delivery.jobs import DeliveryJob, Destination
from bot.delivery.limits import RateLimits
from bot.delivery.operations import Operation, Outcome, Progress, Sent, outcome_of
from bot.logs import REDACTOR
from bot.settings import Settings
from storage.models import Platform

SCHEMA = "herald.event.v1"
# Shorter paths (`/hook`, `/events`) carry no credential, and redacting them would only
# blank ordinary words in the log.
LONG_PATH = 16
SIGNATURE_HEADER = "X-Herald-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, for the receiver to recompute."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def event(job: DeliveryJob, public_url: str) -> dict[str, Any]:
    """The JSON event for a delivery (documented in the README)."""
    post = job.post
    return {
        "schema": SCHEMA,
        "id": f"{job.update_id}.{job.revision}",
        "type": "update.corrected" if job.is_correction else "update.posted",
        "incident": {
            "id": f"INC-{job.incident_id}",
            "title": post.title,
            "display_title": job.root.title,
            "status": job.incident_status,
            "severity": job.severity,
            "impact": post.impact,
            "components": list(post.components),
            "url": f"{public_url.rstrip('/')}/incidents/{job.incident_id}",
        },
        "update": {
            "number": job.public_number,
            "kind": job.update_kind.value,
            "status": job.update_status,
            "at": post.at.isoformat(),
            "locale": post.locale,
            "headline": post.headline,
            "stamp": post.stamp,
            "text": post.body,
            "window": post.window,
            "revision": job.revision,
        },
    }


def _keep_out_of_logs(destination: Destination) -> None:
    # The signing secret, and the path and query of the URL, which for Slack, Teams and
    # Discord incoming webhooks is the credential; httpx shows URLs at DEBUG.
    parts = urlsplit(destination.address)
    where = parts.path + (f"?{parts.query}" if parts.query else "")
    REDACTOR.add(destination.secret, where if len(where) >= LONG_PATH else None)


def build_sender(settings: Settings, limits: RateLimits) -> WebhookSender:
    """The webhook sender: always on (the registry builds it from here)."""
    return WebhookSender(limits=limits, public_url=settings.public_url)


class WebhookSender:
    """POSTs signed events with httpx."""

    def __init__(self, *, limits: RateLimits, public_url: str, timeout: float = 10) -> None:
        self.client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self.limits = limits
        self.public_url = public_url

    def scope(self, destination: Destination) -> str:
        """A 429 pauses the receiving host."""
        return "webhook:" + (urlsplit(destination.address).hostname or destination.address)

    async def _post(self, destination: Destination, payload: dict[str, Any]) -> Sent:
        _keep_out_of_logs(destination)
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Herald-Webhook/1",
            "X-Herald-Event": str(payload["type"]),
            SIGNATURE_HEADER: sign(destination.secret or "", int(time.time()), body),
        }
        async with self.limits.turn(Platform.WEBHOOK, destination.address, self.scope(destination)):
            try:
                response = await self.client.post(
                    destination.address, content=body, headers=headers
                )
            except httpx.HTTPError as error:
                raise Unavailable(f"{type(error).__name__}: {error}") from error
        status = response.status_code
        if 200 <= status < 300:
            return Sent(f"HTTP {status}")
        if status == 429:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            await self.limits.pause(self.scope(destination), retry_after)
            raise RateLimited("HTTP 429", retry_after=retry_after, scope=self.scope(destination))
        if status in (404, 410):
            raise ChannelGone(f"HTTP {status} from the receiver")
        if status == 408 or status >= 500:
            raise Unavailable(f"HTTP {status}")
        raise Rejected(f"HTTP {status}: {response.text[:200]}")

    async def perform(self, operation: Operation, progress: Progress) -> Outcome:
        """POST the event for this update or correction."""
        payload = event(operation.job, self.public_url)
        return await outcome_of(self._post(operation.job.destination, payload))

    async def probe(self, destination: Destination, text: str) -> str:
        """POST a test event."""
        payload = {"schema": SCHEMA, "type": "test", "text": text}
        return str((await self._post(destination, payload)).ref)

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self.client.aclose()
