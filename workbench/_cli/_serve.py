"""``workbench serve``: a registered model over REST."""

from __future__ import annotations

import argparse
import os

from workbench._cli._common import AddCommand, project_settings

__all__ = ["register"]


_TOKEN_COMMANDS = ("add-token", "revoke-token", "tokens")


def _cmd_tokens(args: argparse.Namespace) -> int:
    from workbench._exceptions import ConfigurationError
    from workbench.serving._tokens import TokenStore

    store = TokenStore(project_settings(args).home)
    if args.model_uri == "tokens":
        names = store.names()
        print("\n".join(names) if names else f"no named tokens in {store.path}")
        return 0
    if args.name is None:
        raise ConfigurationError(f"workbench serve {args.model_uri} needs a caller's NAME.")
    if args.model_uri == "revoke-token":
        if not store.revoke(args.name):
            print(f"no token named {args.name!r} in {store.path}")
            return 1
        print(f"revoked {args.name!r}: a running server refuses it within a second")
        return 0
    token, existed = store.add(args.name)
    print(
        f"{'new token for' if existed else 'added'} {args.name!r} in {store.path} (only its "
        f"SHA-256 is kept; give this token to the caller now, it is not shown again):\n"
        f"{token}"
    )
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    if args.model_uri in _TOKEN_COMMANDS:
        return _cmd_tokens(args)
    # BLAS/OpenMP threads are set before numpy loads: inline prediction on a small machine
    # is fastest single-threaded, and oversubscription makes latency erratic.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    # a server's output is a log: no progress bar of MLflow's artifact downloads in it
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if args.canary_share is not None and args.canary is None:
        from workbench._exceptions import ConfigurationError

        raise ConfigurationError(
            f"--canary-share {args.canary_share:g} without --canary ALIAS: say which alias "
            f"of the model answers that share (--canary challenger)."
        )
    from workbench.serving._server import serve

    return serve(
        args.model_uri,
        settings=project_settings(args),
        host=args.host,
        port=args.port,
        log_dir=args.log_dir,
        inference_log=not args.no_log,
        reload_seconds=args.reload_seconds,
        max_body_mb=args.max_body_mb,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
        insecure=args.insecure,
        verbose=args.verbose,
        shadow=args.shadow,
        canary=args.canary,
        canary_share=0.1 if args.canary_share is None else args.canary_share,
    )


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
        "Authentication: every endpoint but /ping and /health needs\n"
        "'Authorization: Bearer <token>' (401 otherwise; 429 after ten wrong ones from an\n"
        "address) once a token exists. Each caller its own, revocable by name:\n"
        "  workbench serve add-token NAME      prints a new token once (only its hash is kept)\n"
        "  workbench serve revoke-token NAME   and `tokens` lists the names;\n"
        "the inference log names the caller. Or one shared token in WORKBENCH_SERVE_TOKEN.\n"
        "Tokens come from the environment or the project's private store, never from the\n"
        "command line, and are never logged. Without one it serves only 127.0.0.1 unless\n"
        "told --insecure.",
    )
    serve.add_argument(
        "model_uri",
        metavar="MODEL_URI",
        help="models:/name@alias, models:/name/version or runs:/id/model; or add-token, "
        "revoke-token, tokens",
    )
    serve.add_argument("name", nargs="?", help=argparse.SUPPRESS)  # of add/revoke-token
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
    serve.add_argument("--ssl-certfile", metavar="PEM", help="serve HTTPS with this certificate")
    serve.add_argument("--ssl-keyfile", metavar="PEM", help="the certificate's private key")
    serve.add_argument(
        "--shadow",
        metavar="ALIAS",
        help="also send every request to this alias of the model (challenger), off the "
        "request path: logged under its version in <log>/shadow/, never returned",
    )
    serve.add_argument(
        "--canary",
        metavar="ALIAS",
        help="let this alias of the model (challenger) answer a share of the requests "
        "(--canary-share), chosen by the caller's X-Request-ID so that a retry lands the "
        "same; X-Model-Version says which version answered. Not with --shadow",
    )
    serve.add_argument(
        "--canary-share",
        type=float,
        metavar="SHARE",
        help="the canary's share of requests, strictly between 0 and 1 (default 0.1)",
    )
    serve.add_argument(
        "--insecure",
        action="store_true",
        help="serve beyond 127.0.0.1 without a token (anyone who reaches it may use it)",
    )
    serve.set_defaults(func=_cmd_serve)
