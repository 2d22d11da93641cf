"""``workbench serve``: a registered model over REST."""

from __future__ import annotations

import argparse
import os
from typing import Any

from workbench._cli._common import AddCommand, project_settings

__all__ = ["register"]


def _cmd_serve(args: argparse.Namespace) -> int:
    # BLAS/OpenMP threads are set before numpy loads: inline prediction on a small machine
    # is fastest single-threaded, and oversubscription makes latency erratic.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    # a server's output is a log: no progress bar of MLflow's artifact downloads in it
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from workbench._imports import require
    from workbench.serving import create_app
    from workbench.serving._app import check_model_uri

    s = project_settings(args)
    uvicorn = require("uvicorn", feature="the scoring server")
    # a wrong name or alias: an error, not a traceback
    name, version = check_model_uri(args.model_uri, s)
    token = os.environ.get("WORKBENCH_SERVE_TOKEN") or None
    app = create_app(
        args.model_uri,
        log_dir=args.log_dir,
        settings=s,
        token=token,
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
        reload_seconds=args.reload_seconds or None,
        inference_log=not args.no_log,
    )
    host, port = args.host or s.host, args.port or s.serve_port
    log_dir = "off (--no-log)" if args.no_log else str(args.log_dir or s.inference_log_dir)
    alias = args.model_uri.removeprefix("models:/").partition("@")[2]
    serving = f"{name} version {version}" + (f" (@{alias})" if alias else "")
    following = (
        f"follows @{alias}: "
        + (f"checks it every {args.reload_seconds:g} s and " if args.reload_seconds else "")
        + "on SIGHUP, and serves the version it moves to"
        if alias
        else ""
    )

    class Server(uvicorn.Server):  # type: ignore[misc,name-defined]
        """uvicorn's server, saying when it listens and when it has stopped."""

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if not self.started:  # uvicorn has said why (port taken, say)
                return
            url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
            print(
                f"serving {serving} at {url}\n"
                f"  POST {url}/invocations; GET /ping, /health, /version, /metrics"
                + ("; a bearer token is required (WORKBENCH_SERVE_TOKEN)" if token else "")
                + "\n"
                f"  inference log   {log_dir}\n"
                + (f"  model           {following}\n" if following else "")
                + f"  Ctrl-C or SIGTERM stops it{'' if args.verbose else '; -v logs each request'}",
                flush=True,
            )

        async def shutdown(self, sockets: Any = None) -> None:
            await super().shutdown(sockets=sockets)
            n = self.server_state.total_requests
            print(
                f"stopped: {n} request{'' if n == 1 else 's'} answered"
                + ("" if args.no_log else f", the inference log flushed to {log_dir}"),
                flush=True,
            )

    server = Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="info" if args.verbose else "warning",
            # a line per request at -v; else none (the inference log is the record, and a
            # line per request costs)
            access_log=args.verbose,
            proxy_headers=False,  # client addresses are not used, so do not parse them
            timeout_graceful_shutdown=30,
        )
    )
    server.run()
    return 0 if server.started else 1


def register(add: AddCommand) -> None:
    """Add the command(s) of this module to the ``workbench`` parser."""
    serve = add(
        "serve",
        "serve a registered model over REST (MLflow scoring protocol)",
        "Serve MODEL_URI with POST /invocations (dataframe_split, dataframe_records,\n"
        "instances, inputs, CSV), GET /ping, /health, /version and /metrics (Prometheus).\n"
        "Every predicted row is appended to the inference log with its request id\n"
        "(X-Request-ID header). SIGTERM finishes in-flight requests and flushes the log\n"
        "before exiting. Bodies over --max-body-mb get 413.\n\n"
        "Authentication: set WORKBENCH_SERVE_TOKEN in the server's environment and every\n"
        "endpoint but /ping and /health needs 'Authorization: Bearer <token>' (401 otherwise).\n"
        "The token is read from the environment, never from the command line (which other\n"
        "users can see), and never logged.",
    )
    serve.add_argument(
        "model_uri",
        metavar="MODEL_URI",
        help="models:/name@alias, models:/name/version or runs:/id/model",
    )
    serve.add_argument("--host", help="interface (default: the 'host' setting, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: the 'serve_port' setting, 5005)")
    serve.add_argument(
        "--log-dir",
        metavar="DIR",
        help="inference log folder (default: the 'inference_log_dir' setting)",
    )
    serve.add_argument(
        "--threads", type=int, default=1, help="BLAS/OpenMP threads for prediction (default 1)"
    )
    serve.add_argument(
        "--no-log",
        action="store_true",
        help="do not write the inference log (to measure its cost; monitoring needs it)",
    )
    serve.add_argument(
        "--reload-seconds",
        type=float,
        default=10.0,
        help="for models:/name@alias, check the alias this often and serve the version it "
        "moves to without dropping requests; SIGHUP checks at once; 0: only on SIGHUP "
        "(default 10)",
    )
    serve.add_argument(
        "--max-body-mb",
        type=float,
        default=16.0,
        help="largest request body in MiB; larger ones get 413 (default 16)",
    )
    serve.set_defaults(func=_cmd_serve)
