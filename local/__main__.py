"""`make run`: the whole backend on 127.0.0.1, from serverless.yml: API Gateway, Cognito and
DynamoDB in this process, each function's execution environments in processes of their own.

PORT (default 4000) is the API's port, MOTO_PORT moto's (default: any free port), SEED=0 skips
the demo data, LAMBDA_CONCURRENCY (default 10) caps the execution environments per function.
The tables' streams run their functions (notify) as Lambda would; Discord is a stand-in under
/_local/discord unless DISCORD_AUTH (with DISCORD_GUILD_ID, DISCORD_CHANNEL_ID) names a real bot.
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
    mongo,
    pages,
    payments,
    persistence,
    schedule,
    serverless,
    shop,
    streams,
)
from local import stripe as stripe_stand_in
from local import tournaments as local_tournaments
from local.authorizer import JwtAuthorizer
from local.cognito import CognitoEndpoint
from local.lambdas import DEFAULT_CONCURRENCY, FunctionError, Lambdas, stats_table
from local.openapi import document
from local.seed import DEMO, DEMO_PASSWORD, email_of, login_of, seed
from local.server import COGNITO_PATH, LocalApi, LocalServer, bind

ROOT = Path(__file__).resolve().parent.parent
STAGE = "local"
log = logging.getLogger("local")


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

    # Payments on, against the Stripe stand-in unless a real test key is given; with
    # LOCAL_PAYMENTS=off the stack is a stage without payments, like `simple`: no payment
    # function or route (API Gateway's 404), and no `price` in the published schema.
    features = frozenset({"payments"} if payments.requested() else ())
    # Without TOURNAMENTS=1 the stack is a stage without tournament.yml: no tournament routes.
    if local_tournaments.requested():
        features |= {"tournaments"}
    # MEMBERSHIP=1: the club's shop is asked who is a member (a stand-in unless WIX_API_KEY).
    features |= {"membership"} if shop.requested() else set()
    service = serverless.load(ROOT / "serverless.yml", STAGE, features)
    shell = dict(os.environ)  # the developer's settings (a Discord bot), before the stage's
    _isolate_from_aws()
    moto, moto_url = aws.start_moto(int(os.environ.get("MOTO_PORT", "0")))
    bot = None
    try:
        # Every AWS client in this process, the handlers' included, now talks to moto.
        os.environ["AWS_ENDPOINT_URL"] = moto_url
        # The functions' environment, before any handler is imported: they read it at import.
        os.environ.update(service.environment())
        table_names = aws.create_tables(service)
        if payments.enable_if_keyed(service):
            log.info(
                "Payments on (Stripe test mode); webhooks: stripe listen --forward-to "
                "http://localhost:%s/stripe/webhook",
                os.environ.get("PORT", "4000"),
            )
        if "tournaments" in features:  # the bot's token and MongoDB
            bot = local_tournaments.enable(service)
        pool = aws.create_user_pool(service)
        pool, kept = _restore(pool)
        keeper = persistence.Keeper(
            persistence.directory(ROOT),
            table_names,
            pool,
            lambda: moto.app.lock,
            lambda: moto.app.changes,
        )
        server = _server(service, pool, moto_url, int(os.environ.get("PORT", "4000")), shell, bot)
        pollers = streams.start(service, server.api.lambdas.invoke, moto_url)
    except BaseException:
        moto.stop()
        if bot:
            bot[1].stop()
        raise
    config = server.api.config
    ready = threading.Thread(
        target=_announce,
        args=(service.name, config, pool, moto_url, started, kept, bot),
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
        if bot:
            bot[1].stop()
        log.info("What the functions served:\n%s", stats_table(server.api.lambdas.stats()))
    return 0


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
    bot: tuple[str, mongo.LocalMongo] | None = None,
) -> LocalServer:
    try:
        server = bind(port)
    except OSError as error:
        message = f"Cannot listen on 127.0.0.1:{port} ({error}): set PORT to another port"
        raise SystemExit(message) from None
    api_url = f"http://127.0.0.1:{server.server_address[1]}"
    # Before any environment starts: the functions read their settings at import.
    os.environ.update(discord.keep_token_secret(service, discord.settings(shell, api_url)))
    stripe_tool = None
    if payments.requested() and not payments.keyed():  # else real Stripe, or no payments
        stand_in = stripe_stand_in.StripeStandIn(api_url)
        payments.enable_stand_in(
            service,
            api_url + stripe_stand_in.PATH,
            stripe_stand_in.SECRET_KEY,
            stand_in.webhook_secret,
        )
        stripe_tool = (stand_in.handle, "Stripe stand-in")
    if bot:
        os.environ.update(local_tournaments.site_settings(shell, api_url))
    shop_stand_in = service.has_feature("membership") and shop.enable(service, shell, api_url)
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
    site = pages.Pages(sign_in)
    tools |= {
        "/_local": (site.console, "console"),
        "/_local/docs": (site.docs, "docs"),
        pages.ASSETS: (site.asset, "asset"),
        "/_local/users": (cognito.users, "users"),
    }
    if not shell.get("DISCORD_AUTH"):  # else notifications go to the real Discord
        tools[discord.PATH] = (discord.DiscordStandIn().handle, "Discord stand-in")
    if stripe_tool is not None:
        tools[stripe_stand_in.PATH] = stripe_tool
    if bot:  # tournaments: the sites' stand-ins and the bot's MongoDB
        tools[lichess.PATH] = (lichess.LichessStandIn().handle, "Lichess stand-in")
        tools[chesscom.PATH] = (chesscom.ChesscomStandIn().handle, "Chess.com stand-in")
        tools[mongo.PATH] = (bot[1].handle, "MongoDB")
    if shop_stand_in:  # the demo player is a member
        members = [email_of(DEMO)]
        tools[shop.PATH] = (shop.ShopStandIn(members).handle, "shop stand-in")
    server.api = LocalApi(service, lambdas, authorizer, cognito, config, openapi, tools)
    return server


def _announce(
    name: str,
    config: dict[str, str],
    pool: aws.UserPool,
    moto_url: str,
    started: float,
    kept: str | None,
    bot: tuple[str, mongo.LocalMongo] | None = None,
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
        f"  {'Discord':<17} "
        + (
            f"{api_url}{discord.PATH} (what notifications sent; a stand-in)"
            if os.environ.get("DISCORD_API_URL", "").startswith(api_url)
            else f"notifications go to Discord (server {os.environ.get('DISCORD_GUILD_ID')})"
        ),
        f"  {'DynamoDB (moto)':<17} {moto_url}",
    ]
    if os.environ.get("STRIPE_API_BASE", "").startswith(api_url):
        lines.append(f"  {'Stripe':<17} {api_url}{stripe_stand_in.PATH} (payments; a stand-in)")
    if bot:
        lines += [
            f"  {'Bot token':<17} {bot[0]}  (Authorization: Basic <token>)",
            f"  {'Lichess':<17} {api_url}{lichess.PATH} (a stand-in)",
            f"  {'Chess.com':<17} {api_url}{chesscom.PATH} (a stand-in)",
            f"  {'MongoDB':<17} {bot[1].describe()}",
        ]
    if os.environ.get("SHOP_SECRET_NAME") and (shop_url := os.environ.get("SHOP_URL")):
        stand_in = shop_url.startswith(api_url)
        lines.append(
            f"  {'Shop':<17} {shop_url}"
            + (" (who is a member; a stand-in)" if stand_in else " (membership from the real shop)")
        )
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
