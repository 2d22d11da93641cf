"""``workbench serve``: the scoring app under uvicorn, with its limits, TLS and access rule.

It refuses to listen beyond this machine without a token (unless told ``insecure``),
serves HTTPS with a certificate and key, bounds request headers (size and the time to
send them) and idle keep-alive connections by the settings, and keeps query strings out
of the access log (a token or a personal value put there by mistake stays out of it).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from workbench._exceptions import ConfigurationError
from workbench._imports import require
from workbench._network import is_loopback, tls_context
from workbench._secrets import read_secret
from workbench._settings import SECRETS, Settings
from workbench.serving._app import create_app
from workbench.serving._limits import limited_protocol
from workbench.serving._model import check_model_uri
from workbench.serving._tokens import TOKENS_VARIABLE, Callers

__all__ = ["PathOnly", "serve"]


class PathOnly(logging.Filter):
    """uvicorn's access-log line with the path only: the query string is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


def serve(
    model_uri: str,
    *,
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    log_dir: str | Path | None = None,
    inference_log: bool = True,
    reload_seconds: float | None = 10.0,
    max_body_mb: float = 16.0,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    insecure: bool = False,
    verbose: bool = False,
    shadow: str | None = None,
    canary: str | None = None,
    canary_share: float = 0.1,
) -> int:
    """Serve ``model_uri`` until SIGTERM or Ctrl-C; the exit status (1: it never listened).

    Raises:
        ServingError: No such model, version or alias (before anything starts).
        ConfigurationError: Beyond loopback without a token and not ``insecure``; a
            certificate without its key, or one that cannot be loaded; damaged tokens.
    """
    uvicorn = require("uvicorn", feature="the scoring server")
    host = host or settings.host
    port = port or settings.serve_port
    callers = Callers(read_secret(SECRETS["serve_token"]), settings.home)
    if not callers.required and not is_loopback(host) and not insecure:
        raise ConfigurationError(
            f"workbench serve would listen on {host} without a token: anyone who reaches "
            f"the port could use the model and read /metrics. Give each caller a token "
            f"(`workbench serve add-token NAME`; in a cluster {TOKENS_VARIABLE} from a "
            f"Secret), or one shared token ({SECRETS['serve_token']} in the environment). "
            f"Or say --insecure to serve it to anyone who can reach it."
        )
    tls = tls_context(ssl_certfile, ssl_keyfile) is not None  # a bad pair: a clear error
    name, version = check_model_uri(model_uri, settings)  # an error, not a traceback
    app = create_app(
        model_uri,
        log_dir=log_dir,
        settings=settings,
        callers=callers,
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        reload_seconds=reload_seconds or None,
        inference_log=inference_log,
        shadow=shadow,
        canary=canary,
        canary_share=canary_share,
    )
    # the challenger's alias too: a typo is an error now, not a traceback at startup
    challenger = {
        alias: check_model_uri(f"models:/{name}@{alias}", settings)[1]
        for alias in (shadow, canary)
        if alias is not None
    }
    scheme = "https" if tls else "http"
    url = f"{scheme}://{host if ':' not in host else f'[{host}]'}:{port}"
    where = "off (--no-log)" if not inference_log else str(log_dir or settings.inference_log_dir)
    alias = model_uri.removeprefix("models:/").partition("@")[2]
    following = (
        f"follows @{alias}: "
        + (f"checks it every {reload_seconds:g} s and " if reload_seconds else "")
        + "on SIGHUP, and serves the version it moves to"
        if alias
        else ""
    )
    names = callers.names()
    access = (
        f"a bearer token is required; callers: {', '.join(names) or 'none yet'}"
        if callers.required
        else "no token, open to anyone who reaches it"
    )
    said: list[str] = []  # warnings, right under the banner
    if not is_loopback(host):
        if not callers.required:
            said.append(f"warning: --insecure: no token, anyone who reaches {host} may use it")
        elif not tls:
            said.append(
                "warning: no TLS: tokens and predictions cross the network in clear; give "
                "--ssl-certfile and --ssl-keyfile, or put a TLS proxy in front"
            )
    banner = (
        f"serving {name} version {version}" + (f" (@{alias})" if alias else "") + f" at {url}\n"
        f"  POST {url}/invocations; GET /ping, /health, /version, /metrics\n"
        f"  inference log   {where}\n"
        f"  access          {access}\n"
        + (f"  model           {following}\n" if following else "")
        + (
            f"  shadow          @{shadow} (version {challenger[shadow]}): every request, "
            f"logged in <log>/shadow/, never returned\n"
            if shadow
            else ""
        )
        + (
            f"  canary          @{canary} (version {challenger[canary]}) answers "
            f"{canary_share * 100:g} % of requests (X-Model-Version says which)\n"
            if canary
            else ""
        )
        + f"  Ctrl-C or SIGTERM stops it{'' if verbose else '; -v logs each request'}"
    )

    class Server(uvicorn.Server):  # type: ignore[misc,name-defined]
        """uvicorn's server, saying when it listens and when it has stopped."""

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:  # else uvicorn has said why (port taken, say)
                print("\n".join([banner, *said]), flush=True)

        async def shutdown(self, sockets: Any = None) -> None:
            await super().shutdown(sockets=sockets)
            n = self.server_state.total_requests
            print(
                f"stopped: {n} request{'' if n == 1 else 's'} answered"
                + (f", the inference log flushed to {where}" if inference_log else ""),
                flush=True,
            )

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info" if verbose else "warning",
        # a line per request at -v (path only); else none (the inference log is the record)
        access_log=verbose,
        proxy_headers=False,  # the peer's own address: X-Forwarded-For is never believed
        timeout_graceful_shutdown=30,
        http=limited_protocol(
            settings.serve_max_header_kb * 1024, float(settings.serve_header_timeout)
        ),
        timeout_keep_alive=settings.serve_idle_timeout,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )
    config.load()  # uvicorn's logging set up, then the access filter added to it
    logging.getLogger("uvicorn.access").addFilter(PathOnly())
    server = Server(config)
    server.run()
    return 0 if server.started else 1
