"""Tell the operator when a run fails or a blocking check stops publication.

One JSON POST to the webhook in ``WAYBILL_ALERT_WEBHOOK`` (Slack-, Teams- or any HTTP
receiver; ``Settings.alert_webhook_url``). Called by ``waybill run`` at the end of a run and by
the Dagster run-failure sensor for runs the daemon starts (sensor, schedule). A notification
that cannot be delivered is reported on stderr and never fails the run a second time.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime


def notify_operator(
    url: str | None, event: str, summary: str, details: dict | None = None, timeout: float = 5.0
) -> bool:
    """POST ``{"event", "summary", "text", "details", "at"}``; True when the receiver said 2xx.

    ``text`` repeats the summary for receivers (Slack, Teams) that show that field."""
    if not url:
        return False
    body = json.dumps(
        {
            "event": event,
            "summary": summary,
            "text": f"waybill: {summary}",
            "details": details or {},
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        default=str,
    ).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"waybill: could not notify {url}: {exc}", file=sys.stderr)
        return False
