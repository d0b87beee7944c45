"""`make run`: the whole backend on 127.0.0.1, from serverless.yml: API Gateway, Cognito and
DynamoDB in this process, each function's execution environments in processes of their own.

PORT (default 4000) is the API's port, MOTO_PORT moto's (default: any free port), SEED=0 skips
the demo data, LAMBDA_CONCURRENCY (default 10) caps the execution environments per function.
The tables' streams run their functions (notify) as Lambda would; Discord is a stand-in under
/_local/discord unless DISCORD_AUTH (with DISCORD_GUILD_ID, DISCORD_CHANNEL_ID) names a real bot.
Ctrl-C (or SIGTERM) stops everything and prints what each function served.
"""

import functools
import gc
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from local import aws, discord, payments, schedule, serverless, shop, streams
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

    # Without a Stripe key the stack is a stage without payments, like `simple`: no payment
    # function or route (API Gateway's 404), and no `price` in the published schema.
    features = frozenset({"payments"} if payments.requested() else ())
    # MEMBERSHIP=1: the club's shop is asked who is a member (a stand-in unless WIX_API_KEY).
    features |= {"membership"} if shop.requested() else set()
    service = serverless.load(ROOT / "serverless.yml", STAGE, features)
    shell = dict(os.environ)  # the developer's settings (a Discord bot), before the stage's
    _isolate_from_aws()
    moto, moto_url = aws.start_moto(int(os.environ.get("MOTO_PORT", "0")))
    try:
        # Every AWS client in this process, the handlers' included, now talks to moto.
        os.environ["AWS_ENDPOINT_URL"] = moto_url
        # The functions' environment, before any handler is imported: they read it at import.
        os.environ.update(service.environment())
        aws.create_tables(service)
        if payments.enable_if_keyed(serverless.REGION):
            log.info(
                "Payments on (Stripe test mode); webhooks: stripe listen --forward-to "
                "http://localhost:%s/stripe/webhook",
                os.environ.get("PORT", "4000"),
            )
        pool = aws.create_user_pool(service)
        server = _server(service, pool, moto_url, int(os.environ.get("PORT", "4000")), shell)
        pollers = streams.start(service, server.api.lambdas.invoke, moto_url)
    except BaseException:
        moto.stop()
        raise
    config = server.api.config
    ready = threading.Thread(
        target=_announce, args=(service.name, config, pool, moto_url, started), daemon=True
    )
    ready.start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("Stopping")
    finally:
        server.server_close()
        streams.stop(pollers)
        server.api.lambdas.close()
        moto.stop()
        log.info("What the functions served:\n%s", stats_table(server.api.lambdas.stats()))
        # The interpreter's last garbage collection would walk all of moto's in-memory state
        # (tables, stream records) only to free it as the process ends: seconds after a busy
        # session. What is left is freed by the exit all the same.
        gc.freeze()
    return 0


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
) -> LocalServer:
    try:
        server = bind(port)
    except OSError as error:
        message = f"Cannot listen on 127.0.0.1:{port} ({error}): set PORT to another port"
        raise SystemExit(message) from None
    api_url = f"http://127.0.0.1:{server.server_address[1]}"
    # Before any environment starts: the functions read their settings at import.
    os.environ.update(discord.settings(shell, api_url))
    shop_stand_in = service.has_feature("membership") and shop.enable(
        shell, api_url, serverless.REGION
    )
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
    if not shell.get("DISCORD_AUTH"):  # else notifications go to the real Discord
        tools[discord.PATH] = (discord.DiscordStandIn().handle, "Discord stand-in")
    if shop_stand_in:  # the demo player is a member
        members = [email_of(DEMO)]
        tools[shop.PATH] = (shop.ShopStandIn(members).handle, "shop stand-in")
    server.api = LocalApi(service, lambdas, authorizer, cognito, config, openapi, tools)
    return server


def _announce(
    name: str, config: dict[str, str], pool: aws.UserPool, moto_url: str, started: float
) -> None:
    demo = None
    if os.environ.get("SEED", "1") != "0":
        try:
            seed(config["apiUrl"], config["cognitoEndpoint"], pool)
            demo = f"{login_of(DEMO, pool)} / {DEMO_PASSWORD}"
        except Exception:
            log.exception("Demo data could not be created")
    api_url = config["apiUrl"]
    lines = [f"  {key:<17} {value}" for key, value in config.items()]
    lines += [
        f"  {'OpenAPI':<17} {api_url}/_local/openapi.json (browse: {api_url}/_local/docs)",
        f"  {'Stats':<17} {api_url}/_local/stats (also printed on Ctrl-C)",
        f"  {'Discord':<17} "
        + (
            f"{api_url}{discord.PATH} (what notifications sent; a stand-in)"
            if os.environ.get("DISCORD_API_URL", "").startswith(api_url)
            else f"notifications go to Discord (server {os.environ.get('DISCORD_GUILD_ID')})"
        ),
        f"  {'DynamoDB (moto)':<17} {moto_url}",
    ]
    if os.environ.get("MEMBERSHIP_SECRET_NAME") and (shop_url := os.environ.get("SHOP_URL")):
        stand_in = shop_url.startswith(api_url)
        lines.append(
            f"  {'Shop':<17} {shop_url}"
            + (" (who is a member; a stand-in)" if stand_in else " (membership from the real shop)")
        )
    if demo:
        lines.append(f"  {'Demo login':<17} {demo}")
    log.info(
        "%s is running locally (ready in %.1f s; Ctrl-C to stop)\n%s",
        name,
        time.perf_counter() - started,
        "\n".join(lines),
    )


if __name__ == "__main__":
    sys.exit(main())
