"""Alerts that reach people: a webhook (generic JSON, Slack, Teams) and e-mail (SMTP).
It is one job, telling people: the receivers, when each is told what, the record of
what was sent, and the project's table that names them.

A :class:`Notifier` holds the receivers and the rule of repetition. At each monitor run
it is handed the alerts that hold now and, per receiver and alert (an alert is known by
its metric: ``drift``, ``mae``, ``integrity region: unknown category``):

* **fired**: the alert holds and this receiver was not told yet;
* **repeated**: it still holds and ``repeat_every`` seconds passed since the last message;
* **resolved**: the receiver was told it fired, and it no longer holds.

Each message is tried ``retries`` more times on a failure that may pass (no answer, a
5xx or a 429 status, an SMTP server that is down), waiting ``backoff`` seconds, doubled
each time. What was sent, to whom and with what outcome is appended to
``deliveries.jsonl`` in the monitor's folder; what each receiver was told is kept in
``alerts.json`` there, written whole after each message, so a monitor run that is killed
and run again does not tell anyone twice. A message that could not be delivered is tried
again at the next run.

Nothing leaves the machine except to a receiver configured here or in
``[tool.workbench.alerts]`` (:func:`notifier_from_settings`); secrets (a Slack URL, an
SMTP password) are read from environment variables named in that table, never from it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from workbench._exceptions import ConfigurationError
from workbench.monitoring._checkpoint import atomic_write

if TYPE_CHECKING:
    from workbench._settings import Settings
    from workbench.monitoring._alerts import Alert, AlertAction

__all__ = [
    "ACTION_EVENTS",
    "AlertInbox",
    "Delivery",
    "EmailReceiver",
    "Notifier",
    "WebhookReceiver",
    "actions_from_settings",
    "notifier_from_settings",
]

_log = logging.getLogger(__name__)

#: The events of an alert's life, as messages name them.
EVENTS = ("fired", "repeated", "resolved")
#: What an alert rule's action did (``Notifier.tell``), with each one's title word.
ACTION_EVENTS = {
    "retrained": "RETRAINED",
    "retrain failed": "RETRAIN FAILED",
    "retrain interrupted": "RETRAIN INTERRUPTED",
}
FORMATS = ("json", "slack", "teams")


class DeliveryFailed(Exception):
    """A message did not reach its receiver; ``transient`` if trying again may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclasses.dataclass(frozen=True)
class Message:
    """One event of one alert, as every receiver words it."""

    event: str
    source: str
    metric: str
    value: float
    threshold: float
    window: str
    reason: str
    since: str

    @property
    def title(self) -> str:
        words = {"fired": "ALERT", "repeated": "STILL FIRING", "resolved": "RESOLVED"}
        word = {**words, **ACTION_EVENTS}[self.event]
        return f"[{word}] {self.source}: {self.metric}"

    @property
    def text(self) -> str:
        if self.event in ACTION_EVENTS:  # what the action did, in its own words
            return self.reason
        if self.event == "resolved":
            return (
                f"{self.metric} no longer crosses its bound (alert since {self.since}); "
                f"last: {self.reason}"
            )
        return (
            f"{self.reason} (value {self.value:.4g}, bound {self.threshold:.4g}; "
            f"since {self.since})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "title": self.title, "text": self.text}


class WebhookReceiver:
    """Posts each message as JSON to ``url``.

    Args:
        url: The endpoint (a Slack or Teams incoming webhook, or any HTTP receiver).
        format: ``json`` (the message's fields), ``slack`` (``text`` and a section
            block: Slack's incoming webhooks) or ``teams`` (an Adaptive Card in a
            ``message``: Teams' workflow webhooks).
        timeout: Seconds to wait for an answer.
        headers: Extra headers (an ``Authorization`` one, say).
    """

    def __init__(
        self,
        url: str,
        *,
        format: str = "json",
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if format not in FORMATS:
            raise ConfigurationError(
                f"A webhook's format must be one of {list(FORMATS)}; got {format!r}."
            )
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"A webhook's url must start with http(s)://; got {url!r}.")
        self.url, self.format, self.timeout = url, format, timeout
        self.headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"WebhookReceiver({self.name!r})"

    @property
    def name(self) -> str:
        """The receiver as the record and the output name it: its scheme, host and port
        only (a Slack or Teams URL carries its secret in the path, a password may be in
        the host part)."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        hidden = "/…" if parts.path.strip("/") or parts.query else ""
        # two channels on one host are two receivers: told apart by a digest of the URL
        digest = hashlib.sha256(self.url.encode()).hexdigest()[:8]
        return f"webhook:{self.format}:{parts.scheme}://{host}{port}{hidden}#{digest}"

    def body(self, message: Message) -> dict[str, Any]:
        """The JSON this receiver posts for ``message``."""
        if self.format == "slack":
            return {
                "text": f"{message.title}\n{message.text}",
                "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": message.title}},
                    {"type": "section", "text": {"type": "mrkdwn", "text": message.text}},
                ],
            }
        if self.format == "teams":
            color = "Good" if message.event == "resolved" else "Attention"
            card = {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {
                        "type": "TextBlock",
                        "text": message.title,
                        "weight": "Bolder",
                        "color": color,
                        "wrap": True,
                    },
                    {"type": "TextBlock", "text": message.text, "wrap": True},
                ],
            }
            return {
                "type": "message",
                "attachments": [
                    {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
                ],
            }
        return message.to_dict()

    def send(self, message: Message) -> None:
        import httpx

        try:
            response = httpx.post(
                self.url, json=self.body(message), headers=self.headers, timeout=self.timeout
            )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}", transient=True) from exc
        if response.status_code >= 300:
            transient = response.status_code >= 500 or response.status_code == 429
            raise DeliveryFailed(
                f"HTTP {response.status_code}: {response.text[:200]}", transient=transient
            )


class EmailReceiver:
    """Sends each message as a plain-text e-mail over SMTP.

    Args:
        host: The SMTP server.
        port: Its port (25; 587 with ``starttls``).
        sender: The ``From`` address.
        to: The recipients.
        starttls: Upgrade the connection with STARTTLS before logging in.
        username: Log in as this user, with the password in ``password`` (read from an
            environment variable by :func:`notifier_from_settings`).
        timeout: Seconds to wait for the server.
    """

    def __init__(
        self,
        host: str,
        *,
        port: int = 25,
        sender: str,
        to: Sequence[str],
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not to:
            raise ConfigurationError("An e-mail receiver needs at least one address in 'to'.")
        self.host, self.port, self.sender, self.to = host, int(port), sender, list(to)
        self.starttls, self.username, self.timeout = starttls, username, timeout
        self._password = password

    def __repr__(self) -> str:
        return f"EmailReceiver({self.host}:{self.port} → {', '.join(self.to)})"

    @property
    def name(self) -> str:
        return f"email:{','.join(self.to)}@{self.host}:{self.port}"

    def email(self, message: Message) -> EmailMessage:
        """The e-mail of ``message``."""
        mail = EmailMessage()
        mail["Subject"] = message.title
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.to)
        mail.set_content(
            f"{message.text}\n\nmodel: {message.source}\nmetric: {message.metric}\n"
            f"period: {message.window}\nevent: {message.event}\n"
        )
        return mail

    def send(self, message: Message) -> None:
        import smtplib

        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self._password or "")
                smtp.send_message(self.email(message))
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", transient=exc.smtp_code >= 400
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}", transient=True) from exc


@dataclasses.dataclass(frozen=True)
class Delivery:
    """One message and what became of it.

    Attributes:
        receiver: Who (``webhook:slack:https://hooks.slack.com/...``, ``email:...``).
        event: ``fired``, ``repeated`` or ``resolved``; ``metric`` the alert.
        ok: Delivered; ``attempts`` how many tries; ``error`` the last failure.
        sent_at: When (ISO 8601, UTC).
    """

    receiver: str
    event: str
    metric: str
    ok: bool
    attempts: int
    error: str
    sent_at: str


class Notifier:
    """Delivers alerts to ``receivers``: fired once, repeated every ``repeat_every``
    seconds while they hold, resolved when they clear.

    Args:
        receivers: :class:`WebhookReceiver` and :class:`EmailReceiver` instances.
        repeat_every: Seconds between reminders of an alert that still holds.
        retries: Extra tries of a message whose failure may pass.
        backoff: Seconds before the first retry (doubled for each next one).
    """

    def __init__(
        self,
        receivers: Sequence[WebhookReceiver | EmailReceiver],
        *,
        repeat_every: float = 4 * 3600,
        retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        if repeat_every <= 0:
            raise ConfigurationError(f"repeat_every must be > 0 seconds; got {repeat_every!r}.")
        if retries < 0:
            raise ConfigurationError(f"retries must be >= 0; got {retries!r}.")
        self.receivers = list(receivers)
        self.repeat_every, self.retries, self.backoff = float(repeat_every), retries, backoff

    def update(
        self, alerts: Sequence[Alert], *, source: str, store: str | Path, now: float
    ) -> list[Delivery]:
        """Tell each receiver what changed since it was last told; returns the messages
        sent (fired, repeated, resolved), successful or not.

        Args:
            alerts: The alerts that hold now.
            source: What they are about (``model v3 (@champion)``).
            store: The folder of ``alerts.json`` and ``deliveries.jsonl``.
            now: The time, in epoch seconds.
        """
        folder = Path(store)
        book_path = folder / "alerts.json"
        book: dict[str, dict[str, Any]] = (
            json.loads(book_path.read_text()) if book_path.is_file() else {}
        )
        holding = {a.metric: a for a in alerts}
        stamp = _iso(now)
        sent: list[Delivery] = []
        for receiver in self.receivers:
            told = book.setdefault(receiver.name, {})
            for metric, alert in sorted(holding.items()):
                entry = told.get(metric)
                if entry is None:
                    event = "fired"
                elif now - float(entry["last_sent"]) >= self.repeat_every:
                    event = "repeated"
                else:
                    continue
                since = entry["since"] if entry else stamp
                message = _message(event, source, alert, since)
                delivery = self._deliver(receiver, message, now)
                sent.append(delivery)
                if delivery.ok:
                    told[metric] = {
                        "since": since,
                        "last_sent": now,
                        "window": str(alert.window),
                        "reason": alert.reason,
                    }
                self._record(folder, book_path, book, message, delivery)
            for metric in sorted(set(told) - set(holding)):
                entry = told[metric]
                message = Message(
                    "resolved", source, metric, 0.0, 0.0, entry["window"], entry["reason"],
                    entry["since"],
                )  # fmt: skip
                delivery = self._deliver(receiver, message, now)
                sent.append(delivery)
                if delivery.ok:
                    del told[metric]
                self._record(folder, book_path, book, message, delivery)
        return sent

    def tell(
        self,
        event: str,
        *,
        source: str,
        metric: str,
        text: str,
        window: str,
        since: str,
        store: str | Path,
        now: float,
    ) -> list[Delivery]:
        """Tell every receiver, once, what an alert rule's action did (``event``: one of
        ``ACTION_EVENTS``); recorded in ``deliveries.jsonl`` as alerts are. A message
        that fails after its retries is recorded as failed and not tried again.

        Args:
            event: ``retrained``, ``retrain failed`` or ``retrain interrupted``.
            source: The model the alert is about (``model v3 (@champion)``).
            metric: The alert that set the action off.
            text: What happened, in words (the new version and its backtest, or the error).
            window: The period the alert fired on; ``since`` when it fired.
            store: The folder of ``deliveries.jsonl``.
            now: The time, in epoch seconds.
        """
        if event not in ACTION_EVENTS:
            raise ConfigurationError(f"event must be one of {list(ACTION_EVENTS)}; got {event!r}.")
        message = Message(event, source, metric, 0.0, 0.0, window, text, since)
        sent = []
        for receiver in self.receivers:
            delivery = self._deliver(receiver, message, now)
            sent.append(delivery)
            _append(Path(store), message, delivery)
        return sent

    def _deliver(
        self, receiver: WebhookReceiver | EmailReceiver, message: Message, now: float
    ) -> Delivery:
        error, attempts = "", 0
        wait = self.backoff
        for attempt in range(self.retries + 1):
            attempts = attempt + 1
            try:
                receiver.send(message)
            except DeliveryFailed as exc:
                error = str(exc)
                _log.warning("alert to %s failed (try %d): %s", receiver.name, attempts, exc)
                if not exc.transient or attempt == self.retries:
                    break
                time.sleep(wait)
                wait *= 2
            else:
                return Delivery(
                    receiver.name, message.event, message.metric, True, attempts, "", _iso(now)
                )
        return Delivery(
            receiver.name, message.event, message.metric, False, attempts, error, _iso(now)
        )

    def _record(
        self,
        folder: Path,
        book_path: Path,
        book: Mapping[str, Any],
        message: Message,
        delivery: Delivery,
    ) -> None:
        """What each receiver was told (whole, at once), then the line of the record."""
        atomic_write(book_path, json.dumps(book, indent=1))
        _append(folder, message, delivery)


def _append(folder: Path, message: Message, delivery: Delivery) -> None:
    """One line of ``deliveries.jsonl``: the delivery and its message."""
    line = {**dataclasses.asdict(delivery), "message": message.to_dict()}
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "deliveries.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line, default=str) + "\n")


class AlertInbox:
    """A webhook receiver on this machine that keeps every message posted to it: to try
    alert rules in a notebook, or a CronJob's configuration, before pointing them at
    Slack, Teams or a pager. Nothing leaves the machine.

    Example:
        >>> with AlertInbox() as inbox:  # doctest: +SKIP
        ...     run_monitor(notifier=Notifier([WebhookReceiver(inbox.url)]))
        ...     inbox.titles()[0]
        '[ALERT] electricity v1 (@champion): drift'

    Args:
        port: The port to listen on (0: any free one).
    """

    def __init__(self, port: int = 0) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.messages: list[dict[str, Any]] = []
        kept = self.messages

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                try:
                    kept.append(json.loads(self.rfile.read(size)))
                except json.JSONDecodeError:
                    self.send_response(400)
                else:
                    self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                _log.debug("alert inbox: " + format, *args)

        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/alerts"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def __enter__(self) -> AlertInbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()

    def titles(self) -> list[str]:
        """The title of each message received, oldest first."""
        return [str(m.get("title", m.get("text", ""))) for m in self.messages]


def _message(event: str, source: str, alert: Alert, since: str) -> Message:
    return Message(
        event,
        source,
        alert.metric,
        float(alert.value),
        float(alert.threshold),
        str(alert.window),
        alert.reason,
        since,
    )


def _iso(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).isoformat(timespec="seconds")


def read_deliveries(store: str | Path) -> list[dict[str, Any]]:
    """Every message the monitor's notifier recorded in ``store``, oldest first."""
    path = Path(store) / "deliveries.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _seconds(value: Any, field: str) -> float:
    """``3600``, ``"90s"``, ``"30m"``, ``"4h"`` or ``"1d"`` as seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise ConfigurationError(
            f"[tool.workbench.alerts] {field} must be seconds or a number with s, m, h or d "
            f"('4h'); got {value!r}."
        ) from None


def notifier_from_config(
    config: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> Notifier | None:
    """The notifier a ``[tool.workbench.alerts]`` table describes (``None`` when it
    names no receiver)::

        [tool.workbench.alerts]
        repeat_every = "4h"
        webhooks = [{url_env = "SLACK_WEBHOOK_URL", format = "slack"}]
        email = {host = "smtp.example.org", port = 587, starttls = true,
                 sender = "monitor@example.org", to = ["ml-team@example.org"],
                 username = "monitor", password_env = "SMTP_PASSWORD"}

    A webhook's ``url`` may be written out, or read from the variable ``url_env`` names
    (a Slack or Teams URL is a secret); the SMTP password only from ``password_env``.

    Raises:
        ConfigurationError: A field is missing or malformed, or a named variable is unset.
    """
    from workbench._secrets import read_secret

    env = os.environ if environ is None else environ
    receivers: list[WebhookReceiver | EmailReceiver] = []
    for i, hook in enumerate(config.get("webhooks", [])):
        url = hook.get("url")
        if url is None and "url_env" in hook:
            url = read_secret(hook["url_env"], env)
            if not url:
                raise ConfigurationError(
                    f"[tool.workbench.alerts] webhooks[{i}] reads its url from "
                    f"${hook['url_env']}, which is not set."
                )
        if not url:
            raise ConfigurationError(
                f"[tool.workbench.alerts] webhooks[{i}] needs 'url' or 'url_env'."
            )
        receivers.append(WebhookReceiver(url, format=hook.get("format", "json")))
    mail = config.get("email")
    if mail:
        missing = [k for k in ("host", "sender", "to") if k not in mail]
        if missing:
            raise ConfigurationError(f"[tool.workbench.alerts] email needs {missing}.")
        password = read_secret(mail["password_env"], env) if "password_env" in mail else None
        to = [mail["to"]] if isinstance(mail["to"], str) else list(mail["to"])
        receivers.append(
            EmailReceiver(
                mail["host"],
                port=int(mail.get("port", 25)),
                sender=mail["sender"],
                to=to,
                starttls=bool(mail.get("starttls", False)),
                username=mail.get("username"),
                password=password,
            )
        )
    if not receivers:
        return None
    return Notifier(
        receivers,
        repeat_every=_seconds(config.get("repeat_every", 4 * 3600), "repeat_every"),
        retries=int(config.get("retries", 3)),
    )


def _alerts_table(settings: Settings | None) -> tuple[dict[str, Any], Settings]:
    """The project's ``[tool.workbench.alerts]`` table (empty without one)."""
    import tomllib

    from workbench._settings import get_settings

    s = settings or get_settings()
    pyproject = Path(s.project_dir) / "pyproject.toml"
    if not pyproject.is_file():
        return {}, s
    table = tomllib.loads(pyproject.read_text()).get("tool", {}).get("workbench", {})
    return dict(table.get("alerts") or {}), s


def actions_from_settings(settings: Settings | None = None) -> list[AlertAction]:
    """The actions of the project's alert rules (``[tool.workbench.alerts.rules]``;
    none without them): what ``workbench monitor`` runs when an alert fires."""
    from workbench.monitoring._alerts import actions_from_config

    table, s = _alerts_table(settings)
    return actions_from_config(table, s.project_dir)


def notifier_from_settings(settings: Settings | None = None) -> Notifier | None:
    """The notifier of the project's ``[tool.workbench.alerts]`` table (``None``
    without one: then no alert leaves the machine)."""
    alerts, _ = _alerts_table(settings)
    return notifier_from_config(alerts) if alerts else None
