"""Alerts delivered for real: a local HTTP receiver and a local SMTP server (aiosmtpd).

No message goes to a real address: every receiver here listens on 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from workbench._exceptions import ConfigurationError
from workbench.monitoring import (
    Alert,
    EmailReceiver,
    Notifier,
    WebhookReceiver,
    read_deliveries,
)
from workbench.monitoring._notify import notifier_from_config, notifier_from_settings

DRIFT = Alert("2024-07-01T00:00:00+00:00", "drift", 0.8, 0.5, "4 of 5 columns drifted.")
MAE = Alert("2024-07-01T00:00:00+00:00", "mae", 300.0, 150.0, "mae = 300 above 150.")


class Hook:
    """A local webhook: answers each POST with the next of ``statuses`` (then 200)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.bodies: list[dict[str, object]] = []
        self.statuses = list(statuses or [])
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = outer.statuses.pop(0) if outer.statuses else 200
                if status == 200:
                    outer.bodies.append(body)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"busy")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


def test_an_alert_fires_once_repeats_while_it_holds_and_resolves(
    hook: Hook, tmp_path: Path
) -> None:
    notifier = Notifier([WebhookReceiver(hook.url)], repeat_every=3600)

    def at(now: float, *alerts: Alert) -> list[str]:
        sent = notifier.update(list(alerts), source="m v1", store=tmp_path, now=now)
        assert all(d.ok for d in sent)
        return [f"{d.event} {d.metric}" for d in sent]

    assert at(0, DRIFT) == ["fired drift"]
    assert at(600, DRIFT) == []  # holds; not yet time to say it again
    assert at(1200, DRIFT, MAE) == ["fired mae"]
    assert at(3600, DRIFT, MAE) == ["repeated drift"]
    assert at(4000, MAE) == ["resolved drift"]
    assert at(5000) == ["resolved mae"]
    assert at(6000) == []
    assert [(b["event"], b["metric"]) for b in hook.bodies] == [
        ("fired", "drift"),
        ("fired", "mae"),
        ("repeated", "drift"),
        ("resolved", "drift"),
        ("resolved", "mae"),
    ]
    first = hook.bodies[0]
    assert first["source"] == "m v1" and first["value"] == 0.8 and first["threshold"] == 0.5
    assert first["since"] == "1970-01-01T00:00:00+00:00"
    assert hook.bodies[2]["since"] == first["since"]  # a reminder keeps the start
    assert first["title"] == "[ALERT] m v1: drift"
    assert hook.bodies[3]["title"] == "[RESOLVED] m v1: drift"
    record = read_deliveries(tmp_path)
    assert [(r["event"], r["metric"], r["ok"]) for r in record] == [
        (b["event"], b["metric"], True) for b in hook.bodies
    ]


def test_slack_and_teams_bodies(hook: Hook, tmp_path: Path) -> None:
    notifier = Notifier([WebhookReceiver(hook.url, format=f) for f in ("slack", "teams")])
    notifier.update([DRIFT], source="m v1", store=tmp_path, now=0)
    slack, teams = hook.bodies
    assert slack["text"].startswith("[ALERT] m v1: drift\n4 of 5 columns drifted.")
    assert slack["blocks"][0]["type"] == "header"
    assert slack["blocks"][1]["text"]["type"] == "mrkdwn"
    assert teams["type"] == "message"
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard"
    assert card["content"]["body"][0]["text"] == "[ALERT] m v1: drift"


def test_a_busy_receiver_is_retried_and_a_refusing_one_is_not(tmp_path: Path) -> None:
    busy = Hook([503, 429])
    refusing = Hook([400, 400, 400])
    try:
        notifier = Notifier(
            [WebhookReceiver(busy.url), WebhookReceiver(refusing.url)], retries=3, backoff=0.01
        )
        sent = notifier.update([DRIFT], source="m", store=tmp_path, now=0)
        assert [(d.ok, d.attempts) for d in sent] == [(True, 3), (False, 1)]
        assert sent[1].error.startswith("HTTP 400")
        assert len(busy.bodies) == 1 and refusing.bodies == []
        # not told yet: the refused receiver is tried again at the next run, the other not
        refusing.statuses.clear()
        again = notifier.update([DRIFT], source="m", store=tmp_path, now=60)
        assert [(d.receiver, d.event, d.ok) for d in again] == [
            (WebhookReceiver(refusing.url).name, "fired", True)
        ]
    finally:
        busy.close()
        refusing.close()


def test_an_unreachable_receiver_is_recorded_as_failed(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    notifier = Notifier([WebhookReceiver(f"http://127.0.0.1:{port}/")], retries=1, backoff=0.01)
    (delivery,) = notifier.update([DRIFT], source="m", store=tmp_path, now=0)
    assert not delivery.ok and delivery.attempts == 2 and "ConnectError" in delivery.error
    assert read_deliveries(tmp_path)[0]["ok"] is False


def test_email_through_a_local_smtp_server(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    received: list[tuple[str, list[str], bytes]] = []

    class Handler:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            received.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))  # type: ignore[attr-defined]
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mail = EmailReceiver(
            "127.0.0.1", port=port, sender="monitor@localhost", to=["team@localhost"]
        )
        notifier = Notifier([mail])
        notifier.update([MAE], source="m v2", store=tmp_path, now=0)
        notifier.update([], source="m v2", store=tmp_path, now=10)
    finally:
        controller.stop()
    assert [(frm, to) for frm, to, _ in received] == [("monitor@localhost", ["team@localhost"])] * 2
    fired, resolved = (message_from_bytes(raw) for _, _, raw in received)
    assert fired["Subject"] == "[ALERT] m v2: mae"
    assert "mae = 300 above 150." in fired.get_payload()
    assert resolved["Subject"] == "[RESOLVED] m v2: mae"


def test_an_smtp_server_that_is_down_is_retried(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mail = EmailReceiver("127.0.0.1", port=port, sender="a@localhost", to=["b@localhost"])
    (delivery,) = Notifier([mail], retries=2, backoff=0.01).update(
        [MAE], source="m", store=tmp_path, now=0
    )
    assert not delivery.ok and delivery.attempts == 3


def test_receivers_from_the_projects_alerts_table(tmp_path: Path) -> None:
    from workbench._settings import resolve_settings

    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\n\n[tool.workbench]\nmodel_name = "m"\n\n'
        "[tool.workbench.alerts]\n"
        'repeat_every = "30m"\n'
        'webhooks = [{url = "http://127.0.0.1:9/x", format = "teams"}]\n'
        'email = {host = "127.0.0.1", port = 2525, sender = "a@b", to = "c@d"}\n'
    )
    settings = resolve_settings(tmp_path, environ={})
    assert settings.model_name == "m"  # the table is not a setting, and not refused as one
    notifier = notifier_from_settings(settings)
    assert notifier is not None and notifier.repeat_every == 1800
    hook, mail = notifier.receivers
    assert isinstance(hook, WebhookReceiver) and hook.format == "teams"
    assert isinstance(mail, EmailReceiver) and mail.to == ["c@d"] and mail.port == 2525

    secret = {"webhooks": [{"url_env": "HOOK_URL"}], "email": {}}
    configured = notifier_from_config(secret, environ={"HOOK_URL": "https://hooks.example/T0"})
    assert configured is not None and configured.receivers[0].url == "https://hooks.example/T0"
    with pytest.raises(ConfigurationError, match=r"\$HOOK_URL, which is not set"):
        notifier_from_config(secret, environ={})
    with pytest.raises(ConfigurationError, match="format must be one of"):
        notifier_from_config({"webhooks": [{"url": "http://x", "format": "xml"}]})
    with pytest.raises(ConfigurationError, match=r"email needs \['sender', 'to'\]"):
        notifier_from_config({"email": {"host": "h"}})
    with pytest.raises(ConfigurationError, match="repeat_every must be seconds"):
        notifier_from_config({"webhooks": [{"url": "http://x"}], "repeat_every": "soon"})
    assert notifier_from_config({}) is None


def test_the_alert_inbox_keeps_what_the_notifier_sends(tmp_path: Path) -> None:
    import httpx

    from workbench.monitoring import AlertInbox

    with AlertInbox() as inbox:
        Notifier([WebhookReceiver(inbox.url)]).update([DRIFT], source="m", store=tmp_path, now=0)
        assert inbox.titles() == ["[ALERT] m: drift"]
        assert httpx.post(inbox.url, content=b"not json").status_code == 400
    assert inbox.messages[0]["reason"] == "4 of 5 columns drifted."


def test_an_alert_leaves_the_machine_only_to_a_configured_receiver(
    hook: Hook, tmp_path: Path
) -> None:
    """No table, no receiver: nothing is sent. A configured one gets the alert, and what
    is recorded and shown of it never holds the secret in its URL (a Slack path)."""
    from workbench._settings import resolve_settings

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    assert notifier_from_settings(resolve_settings(tmp_path, environ={})) is None
    secret = "T000/B000/XXXXsecretXXXX"
    url = f"{hook.url}/services/{secret}"
    receiver = WebhookReceiver(url, format="slack")
    assert secret not in receiver.name and secret not in repr(receiver)
    (delivery,) = Notifier([receiver]).update([DRIFT], source="m", store=tmp_path, now=0)
    assert delivery.ok and len(hook.bodies) == 1
    port = hook.url.split(":")[2].split("/")[0]
    assert delivery.receiver.startswith(f"webhook:slack:http://127.0.0.1:{port}/…#")
    other = WebhookReceiver(f"{hook.url}/services/T000/B000/another", format="slack")
    assert other.name.split("#")[0] == receiver.name.split("#")[0]
    assert other.name != receiver.name  # two channels on one host: two receivers
    recorded = "".join(p.read_text() for p in tmp_path.iterdir() if p.suffix in (".json", ".jsonl"))
    assert secret not in recorded and "slack" in recorded


def test_what_an_action_did_is_told_once_to_every_receiver(hook: Hook, tmp_path: Path) -> None:
    """``Notifier.tell``: one message per receiver, in each one's format, recorded beside
    the alerts' messages; the alerts' own book is left as it was."""
    notifier = Notifier(
        [WebhookReceiver(hook.url), WebhookReceiver(hook.url, format="slack")], retries=0
    )
    notifier.update([MAE], source="m v1", store=tmp_path, now=0)
    book = (tmp_path / "alerts.json").read_text()
    sent = notifier.tell(
        "retrain failed",
        source="m v1",
        metric="mae",
        text="retrain on mae FAILED: DataError: no rows",
        window=MAE.window,
        since="1970-01-01T00:00:00+00:00",
        store=tmp_path,
        now=60,
    )
    assert [(d.event, d.ok) for d in sent] == [("retrain failed", True)] * 2
    plain, slack = hook.bodies[2:]
    assert plain["title"] == "[RETRAIN FAILED] m v1: mae"
    assert plain["text"] == "retrain on mae FAILED: DataError: no rows"
    assert slack["text"] == "[RETRAIN FAILED] m v1: mae\nretrain on mae FAILED: DataError: no rows"
    assert [r["event"] for r in read_deliveries(tmp_path)] == ["fired", "fired"] + [
        "retrain failed"
    ] * 2
    assert (tmp_path / "alerts.json").read_text() == book
    assert notifier.update([MAE], source="m v1", store=tmp_path, now=120) == []
    with pytest.raises(ConfigurationError, match="event must be one of"):
        notifier.tell(
            "fired", source="m", metric="mae", text="", window="", since="", store=tmp_path, now=0
        )
