"""`make run`: the whole backend on 127.0.0.1, from serverless.yml: API Gateway, Cognito and
DynamoDB in this process, each function's execution environments in processes of their own.

PORT (default 4000) is the API's port, MOTO_PORT moto's (default: any free port), SEED=0 skips
the demo data, LAMBDA_CONCURRENCY (default 10) caps the execution environments per function.
The tables' streams run their functions (notify) as Lambda would. Each outside service (Discord,
Stripe, the shop, Lichess, ...) is a stand-in under /_local/<name> unless the developer gives its
real key: STAND_INS below, each plugged in through local/standins.py's interface.
Ctrl-C (or SIGTERM) stops everything and prints what each function served.
The tables and the user pool are kept across restarts in LOCAL_DATA (default `.local/`,
local/persistence.py); FRESH=1 starts empty (with the demo data).
"""

import functools
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from local import (
    aws,
    chesscom,
    discord,
    lichess,
    mail,
    pages,
    payments,
    persistence,
    schedule,
    serverless,
    shop,
    standins,
    streams,
)
from local import tournaments as local_tournaments
from local.authorizer import JwtAuthorizer
from local.cognito import CognitoEndpoint
from local.lambdas import DEFAULT_CONCURRENCY, FunctionError, Lambdas, stats_table
from local.openapi import document
from local.seed import DEMO, DEMO_PASSWORD, login_of, seed
from local.server import COGNITO_PATH, LocalApi, LocalServer, bind

ROOT = Path(__file__).resolve().parent.parent
STAGE = "local"
log = logging.getLogger("local")

# The stand-ins, started in this order (their banner lines and console panels in it too).
STAND_INS: tuple[standins.StandIn, ...] = (
    discord.STAND_IN,
    mail.STAND_IN,
    payments.STAND_IN,
    shop.STAND_IN,
    lichess.STAND_IN,
    chesscom.STAND_IN,
    local_tournaments.STAND_IN,
)


def main() -> int:
    started = time.perf_counter()
    # The stack's own lines; the handlers' (JSON) lines come from their powertools loggers.
    output = logging.StreamHandler(sys.stdout)
    output.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    log.addHandler(output)
    log.setLevel(logging.INFO)
    log.propagate = False
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C

    # The features the developer asked for (payments unless LOCAL_PAYMENTS=off, TOURNAMENTS=1,
    # MEMBERSHIP=1); one not asked for makes a stage without it, like `simple` without
    # payments: no function or route (API Gateway's 404), nothing of it in the schema.
    features = frozenset(s.feature for s in STAND_INS if s.feature and s.requested())
    service = serverless.load(ROOT / "serverless.yml", STAGE, features)
    shell = dict(os.environ)  # the developer's settings (a Discord bot), before the stage's
    _isolate_from_aws()
    moto, moto_url = aws.start_moto(int(os.environ.get("MOTO_PORT", "0")))
    stops: list = []  # the started stand-ins' (a MongoDB server)
    try:
        # Every AWS client in this process, the handlers' included, now talks to moto.
        os.environ["AWS_ENDPOINT_URL"] = moto_url
        # The functions' environment, before any handler is imported: they read it at import.
        os.environ.update(service.environment())
        table_names = aws.create_tables(service)
        pool = aws.create_user_pool(service)
        pool, kept = _restore(pool)
        keeper = persistence.Keeper(
            persistence.directory(ROOT),
            table_names,
            pool,
            lambda: moto.app.lock,
            lambda: moto.app.changes,
        )
        port = int(os.environ.get("PORT", "4000"))
        server, banner = _server(service, pool, moto_url, port, shell, stops)
        pollers = streams.start(service, server.api.lambdas.invoke, moto_url)
    except BaseException:
        moto.stop()
        _stop(stops)
        raise
    config = server.api.config
    ready = threading.Thread(
        target=_announce,
        args=(service.name, config, pool, moto_url, started, kept, banner),
        daemon=True,
    )
    ready.start()
    keeper.start()
    # The API serves from a thread of its own, so that it still answers (the Discord
    # stand-in, above all) while the stream deliveries in flight finish after "Stopping".
    threading.Thread(target=server.serve_forever, name="api", daemon=True).start()
    try:
        while True:  # until Ctrl-C or SIGTERM (a KeyboardInterrupt here)
            # Short sleeps: a signal that reaches another thread is acted on only when this
            # one next wakes.
            time.sleep(0.2)
    except KeyboardInterrupt:
        log.info("Stopping")
    finally:
        _stopping(output)
        streams.stop(pollers)  # deliveries in flight: up to 2 s to finish, then dropped
        server.shutdown()
        server.server_close()
        server.api.lambdas.close()  # every environment, busy ones too
        try:
            keeper.stop()
        except Exception as error:  # said in one line: the stack is stopping anyway
            log.error("Could not save the local data in %s: %s", keeper.folder, error)
        moto.stop()
        _stop(stops)
        log.info("What the functions served:\n%s", stats_table(server.api.lambdas.stats()))
    return 0


def _stop(stops: list) -> None:
    for stop in stops:
        stop()


def _stopping(output: logging.Handler) -> None:
    """From "Stopping" on, the stack stops in order (streams, API, functions, moto) and says
    only that: requests and deliveries still in flight end as their environments stop,
    without a line each, and a second Ctrl-C (or SIGTERM) ends the process at once."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_now)
    main_thread = threading.main_thread().ident
    output.addFilter(lambda record: record.thread == main_thread)


def _exit_now(signum: int, frame: object) -> None:
    sys.stdout.flush()
    os._exit(0)


def _exit(status: int) -> None:
    """Ends the process once main() is done: everything is stopped by then. Without the
    interpreter's teardown, which would walk (and free) all of moto's in-memory state only for
    the process to end, and would wait on daemon threads still in a request."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _restore(pool: aws.UserPool) -> tuple[aws.UserPool, str | None]:
    """The tables and users kept by the last run (local/persistence.py), unless FRESH=1; the
    pool (under its kept ids) and a line saying what was kept, None if nothing."""
    folder = persistence.directory(ROOT)
    if os.environ.get("FRESH", "") not in ("", "0"):
        return pool, None
    state = persistence.read(folder)
    if state is None:
        return pool, None
    pool, items, users = persistence.restore(state, pool)
    return pool, f"{items} items and {users} users, from {folder} (FRESH=1 starts empty)"


def _isolate_from_aws() -> None:
    """Dummy credentials and a fixed region, so nothing here can reach a real AWS account."""
    for name in [n for n in os.environ if n.startswith(("AWS_ENDPOINT_URL", "AWS_PROFILE"))]:
        del os.environ[name]
    os.environ.update(
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_SESSION_TOKEN="local",
        AWS_DEFAULT_REGION=serverless.REGION,
        AWS_REGION=serverless.REGION,
    )


def _server(
    service: serverless.Service,
    pool: aws.UserPool,
    moto_url: str,
    port: int,
    shell: dict[str, str],
    stops: list,
) -> tuple[LocalServer, list[tuple[str, str]]]:
    """The API's server, with every stand-in whose feature is on started and mounted (their
    stop functions added to `stops`), and the stand-ins' banner lines."""
    try:
        server = bind(port)
    except OSError as error:
        message = f"Cannot listen on 127.0.0.1:{port} ({error}): set PORT to another port"
        raise SystemExit(message) from None
    api_url = f"http://127.0.0.1:{server.server_address[1]}"
    # Before any environment starts: the functions read their settings at import.
    context = standins.Context(service, shell, api_url)
    stand_in_routes: dict[str, tuple[standins.Handler, str]] = {}
    banner: list[tuple[str, str]] = []
    try:
        for stand_in in STAND_INS:
            if stand_in.feature is None or service.has_feature(stand_in.feature):
                running = standins.check(stand_in, stand_in.start(context))
                os.environ.update(running.environment)
                stand_in_routes |= running.routes
                banner += running.banner
                if running.stop:
                    stops.append(running.stop)
    except BaseException:  # a bad key (SystemExit), or a stand-in that cannot start
        server.server_close()
        raise
    concurrency = int(os.environ.get("LAMBDA_CONCURRENCY", DEFAULT_CONCURRENCY))
    try:
        lambdas = Lambdas(service, concurrency)
    except FunctionError as error:  # a handler that cannot be imported: say which, and stop
        server.server_close()
        raise SystemExit(str(error)) from None
    trigger = service.post_confirmation_function()
    cognito = CognitoEndpoint(
        moto_url, pool, trigger and functools.partial(lambdas.invoke, trigger)
    )
    authorizer = JwtAuthorizer(
        f"{moto_url}/{pool.id}/.well-known/jwks.json", pool.issuer, [pool.client_id]
    )
    config = {
        "apiUrl": api_url,
        "region": serverless.REGION,
        "userPoolId": pool.id,
        "userPoolClientId": pool.client_id,
        "cognitoEndpoint": f"{api_url}{COGNITO_PATH}",
    }
    openapi = document(service, api_url)
    # The stand-ins and control routes under /_local/: a prefix each.
    tools = {schedule.PATH: (schedule.Scheduler(service, lambdas.invoke).handle, "schedule")}
    # The pages (API docs, console) start signed in as the demo player when there is one.
    demo = os.environ.get("SEED", "1") != "0"
    sign_in = {"login": login_of(DEMO, pool), "password": DEMO_PASSWORD} if demo else {}
    site = pages.Pages(sign_in, standins.console_panels(STAND_INS))
    tools |= {
        "/_local": (site.console, "console"),
        "/_local/docs": (site.docs, "docs"),
        pages.ASSETS: (site.asset, "asset"),
        "/_local/users": (cognito.users, "users"),
    }
    tools |= stand_in_routes
    server.api = LocalApi(service, lambdas, authorizer, cognito, config, openapi, tools)
    return server, banner


def _announce(
    name: str,
    config: dict[str, str],
    pool: aws.UserPool,
    moto_url: str,
    started: float,
    kept: str | None,
    banner: list[tuple[str, str]],
) -> None:
    demo = feed = None
    if kept is None and os.environ.get("SEED", "1") != "0":  # kept data has them already
        try:
            paid = os.environ.get("STRIPE_API_BASE", "").startswith(config["apiUrl"])
            feed = seed(config["apiUrl"], config["cognitoEndpoint"], pool, paid)
            demo = f"{login_of(DEMO, pool)} / {DEMO_PASSWORD}"
        except Exception:
            log.exception("Demo data could not be created")
    api_url = config["apiUrl"]
    lines = [f"  {key:<17} {value}" for key, value in config.items()]
    lines += [
        f"  {'Console':<17} {api_url}/_local/ (the stand-ins, scheduled functions, stats)",
        f"  {'API docs':<17} {api_url}/_local/docs (try it out; {api_url}/_local/openapi.json)",
        f"  {'Stats':<17} {api_url}/_local/stats (also printed on Ctrl-C)",
        f"  {'DynamoDB (moto)':<17} {moto_url}",
    ]
    lines += [f"  {label:<17} {text}" for label, text in banner]  # the stand-ins'
    if demo:
        lines.append(f"  {'Demo login':<17} {demo}")
    if feed:  # the demo player's; POST /user/calendar-feed makes anyone's
        lines.append(f"  {'Calendar feed':<17} {feed} (docs/calendar-feed.md)")
    lines.append(f"  {'Data':<17} {kept or 'new'} (kept in {persistence.directory(ROOT)})")
    log.info(
        "%s is running locally (ready in %.1f s; Ctrl-C to stop)\n%s",
        name,
        time.perf_counter() - started,
        "\n".join(lines),
    )


if __name__ == "__main__":
    try:
        status = main()
    except KeyboardInterrupt:  # stopped while starting: nothing to keep
        status = 0
    _exit(status)
