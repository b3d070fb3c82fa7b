"""The operator hears about a failed run or a blocked publication (waybill/notify.py), from
`waybill run` itself (tests/test_publish_gate.py) and from the Dagster run-failure sensor."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from waybill.notify import notify_operator


class Receiver:
    """A local webhook receiver that keeps every JSON body it is sent."""

    def __init__(self, status: int = 200):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_a_notification_is_one_json_post_and_a_dead_receiver_is_only_reported(receiver, capsys):
    assert notify_operator(receiver.url, "run_failed", "pipeline run r1 failed", {"run_id": "r1"})
    [body] = receiver.received
    assert body["event"] == "run_failed" and body["details"] == {"run_id": "r1"}
    assert body["text"] == "waybill: pipeline run r1 failed"
    assert notify_operator(None, "run_failed", "x") is False  # no webhook configured
    assert notify_operator("http://127.0.0.1:9/nothing-listens", "run_failed", "x") is False
    assert "could not notify" in capsys.readouterr().err


def test_the_run_failure_sensor_posts_the_failed_run(receiver, monkeypatch, dbt_manifest):
    from orchestration.defs.automation import notify_on_failure

    monkeypatch.setenv("WAYBILL_ALERT_WEBHOOK", receiver.url)

    @dg.op
    def broken():
        raise RuntimeError("the warehouse disk is full")

    @dg.job
    def pipeline():
        broken()

    instance = dg.DagsterInstance.ephemeral()
    result = pipeline.execute_in_process(instance=instance, raise_on_error=False)
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    context = dg.build_run_status_sensor_context(
        sensor_name="notify_operator_on_failure",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=failure,
    ).for_run_failure()
    notify_on_failure(context)
    [body] = receiver.received
    assert body["event"] == "run_failed" and body["details"]["run_id"] == result.run_id
    assert result.run_id in body["summary"]
