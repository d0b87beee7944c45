"""The Cognito endpoint: moto's Cognito, plus what moto does not do as Cognito does.

Every Cognito API call (a POST with `X-Amz-Target: AWSCognitoIdentityProviderService.<Action>`)
is forwarded to moto, with three additions:
- Once a ConfirmSignUp or AdminConfirmSignUp succeeds, the PostConfirmation function runs with
  the event Cognito would send; if it fails, the caller gets Cognito's error for a failed
  trigger while the user stays confirmed, as with Cognito.
- InitiateAuth accepts a verified alias (`email`) in place of the username.
- A sign-up whose email is listed in LOCAL_ADMINS (comma-separated) is made an admin once its
  profile exists, by the operator's own update (docs/api.md, "Admins"): createUser is unchanged.
- SRP sign-in (`USER_SRP_AUTH`) is real SRP (local/srp.py) against the password moto stores:
  moto's own challenge carries random numbers and names the user by an id its
  RespondToAuthChallenge does not accept, and it takes any password.
"""

import base64
import json
import logging
import os
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import boto3
from moto.cognitoidp.models import cognitoidp_backends
from moto.core import DEFAULT_ACCOUNT_ID

from local.aws import UserPool
from local.events import HttpRequest, HttpResponse, json_response, post_confirmation_event
from local.serverless import REGION
from local.srp import InvalidSrpA, PasswordVerifier

log = logging.getLogger("local")

TARGET_PREFIX = "AWSCognitoIdentityProviderService."
_CONFIRMATIONS = {"ConfirmSignUp", "AdminConfirmSignUp"}
_FORWARDED_REQUEST_HEADERS = {"content-type", "authorization", "x-amz-target", "x-amz-date"}
_FORWARDED_RESPONSE_HEADERS = {"content-type", "x-amzn-requestid", "x-amzn-errortype"}
_SIGN_IN_TIMEOUT = 180  # seconds: how long Cognito's sign-in sessions last


@dataclass(frozen=True)
class _SrpSignIn:
    verifier: PasswordVerifier
    username: str  # moto's name for the user
    moto_secret_block: str  # moto's session, which its RespondToAuthChallenge expects
    started: float


class CognitoEndpoint:
    def __init__(
        self, moto_url: str, pool: UserPool, trigger: Callable[[dict[str, Any]], Any] | None
    ):
        self.moto_url = moto_url
        self.pool = pool
        self.trigger = trigger
        self._srp_sign_ins: dict[str, _SrpSignIn] = {}  # by the SECRET_BLOCK we sent
        self._lock = threading.Lock()

    def handle(self, request: HttpRequest) -> tuple[HttpResponse, str]:
        """moto's (or the trigger's) response, and the action for the log."""
        action = (request.header("x-amz-target") or "").removeprefix(TARGET_PREFIX)
        try:
            parameters = json.loads(request.body)
        except ValueError:
            parameters = None  # moto answers it
        if not isinstance(parameters, dict):
            return self._forward(request), action or "?"
        if action == "InitiateAuth":
            return self._initiate_auth(request, parameters), action
        if (
            action == "RespondToAuthChallenge"
            and parameters.get("ChallengeName") == "PASSWORD_VERIFIER"
        ):
            return self._verify_password_claim(request, parameters), action
        response = self._forward(request)
        if response.status == 200 and action in _CONFIRMATIONS and self.trigger:
            try:
                self._confirmed(parameters)
            except Exception as error:
                log.exception("PostConfirmation trigger failed")
                response = _error(
                    "UserLambdaValidationException", f"PostConfirmation failed with error {error}."
                )
        return response, action or "?"

    def _initiate_auth(self, request: HttpRequest, parameters: dict[str, Any]) -> HttpResponse:
        auth = parameters.get("AuthParameters")
        login = auth.get("USERNAME") if isinstance(auth, dict) else None
        if not isinstance(login, str):
            return self._forward(request)
        user = self._user(login)
        if user is not None:  # the alias (email) becomes the username moto knows
            parameters = {**parameters, "AuthParameters": {**auth, "USERNAME": user.username}}
            request = replace(request, body=json.dumps(parameters).encode())
        response = self._forward(request)
        if parameters.get("AuthFlow") != "USER_SRP_AUTH" or response.status != 200:
            return response
        answer = json.loads(response.body)
        if answer.get("ChallengeName") != "PASSWORD_VERIFIER" or user is None:
            return response
        try:
            verifier = PasswordVerifier.start(
                self.pool.id, self._user_id_for_srp(user), user.password, auth.get("SRP_A", "")
            )
        except InvalidSrpA as error:
            return _error("InvalidParameterException", str(error))
        secret_block = base64.b64encode(secrets.token_bytes(64)).decode()
        moto_parameters = answer["ChallengeParameters"]
        with self._lock:
            now = time.monotonic()
            self._srp_sign_ins = {
                block: sign_in
                for block, sign_in in self._srp_sign_ins.items()
                if now - sign_in.started < _SIGN_IN_TIMEOUT
            }
            self._srp_sign_ins[secret_block] = _SrpSignIn(
                verifier, user.username, moto_parameters["SECRET_BLOCK"], now
            )
        answer["ChallengeParameters"] = {
            **moto_parameters,
            **verifier.challenge_parameters,
            "SECRET_BLOCK": secret_block,
        }
        return replace(response, body=json.dumps(answer).encode())

    def _verify_password_claim(
        self, request: HttpRequest, parameters: dict[str, Any]
    ) -> HttpResponse:
        responses = parameters.get("ChallengeResponses")
        responses = responses if isinstance(responses, dict) else {}
        with self._lock:  # a claim is checked once: a replayed one finds no sign-in
            sign_in = self._srp_sign_ins.pop(
                str(responses.get("PASSWORD_CLAIM_SECRET_BLOCK")), None
            )
        if sign_in is None or time.monotonic() - sign_in.started >= _SIGN_IN_TIMEOUT:
            return _error("NotAuthorizedException", "Invalid session for the user.")
        if responses.get("USERNAME") not in (sign_in.username, sign_in.verifier.user_id):
            return _error("NotAuthorizedException", "Incorrect username or password.")
        try:
            secret_block = base64.b64decode(responses["PASSWORD_CLAIM_SECRET_BLOCK"])
            valid = sign_in.verifier.claim_is_valid(
                secret_block,
                str(responses.get("TIMESTAMP", "")),
                str(responses.get("PASSWORD_CLAIM_SIGNATURE", "")),
            )
        except ValueError:
            valid = False
        if not valid:
            return _error("NotAuthorizedException", "Incorrect username or password.")
        # The password is proven: moto's RespondToAuthChallenge issues the tokens.
        forwarded = {
            **responses,
            "USERNAME": sign_in.username,
            "PASSWORD_CLAIM_SECRET_BLOCK": sign_in.moto_secret_block,
        }
        body = json.dumps({**parameters, "ChallengeResponses": forwarded}).encode()
        return self._forward(replace(request, body=body))

    def users(self, request: HttpRequest) -> HttpResponse:
        """`GET /_local/users`: who is signed up (never a password), for the console."""
        if request.method != "GET":
            return HttpResponse(405, [("Content-Type", "application/json")], b'{"message":"GET"}')
        listed = []
        for user in list(self._moto_pool().users.values()):
            attributes = {item["Name"]: item["Value"] for item in user.attributes}
            listed.append(
                {
                    "username": user.username,
                    "email": attributes.get("email", ""),
                    "name": attributes.get("name", ""),
                    "status": user.status,
                    "created": user.create_date.isoformat(),
                }
            )
        return json_response(200, {"users": listed})

    def _user(self, login: str) -> Any:
        """moto's user signing in as `login` (a username or a verified alias), or None."""
        users = self._moto_pool().users
        if login in users:
            return users[login]
        for name in self.pool.alias_attributes:
            for user in users.values():
                attributes = {item["Name"]: item["Value"] for item in user.attributes}
                if attributes.get(name) == login and attributes.get(f"{name}_verified") == "true":
                    return user
        return self._moto_pool()._get_user(login)  # UsernameAttributes

    def _user_id_for_srp(self, user: Any) -> str:
        # Cognito names the user by its sub when it signs in with an attribute, else by its
        # username (the alias is resolved already).
        return user.id if self.pool.username_attributes else user.username

    def _moto_pool(self) -> Any:
        # moto runs in this process; its model of the pool is the only place the password is.
        return cognitoidp_backends[DEFAULT_ACCOUNT_ID][REGION].user_pools[self.pool.id]

    def _forward(self, request: HttpRequest) -> HttpResponse:
        headers = {
            name: value
            for name, value in request.headers
            if name.lower() in _FORWARDED_REQUEST_HEADERS
        }
        forwarded = urllib.request.Request(
            f"{self.moto_url}/", data=request.body, headers=headers, method=request.method
        )
        try:
            with urllib.request.urlopen(forwarded, timeout=10) as answer:
                status, answer_headers, body = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:  # Cognito's errors are 4xx with a JSON body
            status, answer_headers, body = error.code, error.headers, error.read()
        kept = [
            (name, value)
            for name, value in answer_headers.items()
            if name.lower() in _FORWARDED_RESPONSE_HEADERS
        ]
        return HttpResponse(status, kept, body)

    def _confirmed(self, parameters: dict[str, Any]) -> None:
        cognito = boto3.client("cognito-idp")  # moto itself, through AWS_ENDPOINT_URL
        user = cognito.admin_get_user(UserPoolId=self.pool.id, Username=parameters["Username"])
        attributes = {item["Name"]: item["Value"] for item in user["UserAttributes"]}
        # Confirming the sign-up code verifies the attribute it was sent to (moto skips this).
        verified = {
            f"{name}_verified": "true"
            for name in self.pool.auto_verified_attributes
            if name in attributes and f"{name}_verified" not in attributes
        }
        if verified:
            cognito.admin_update_user_attributes(
                UserPoolId=self.pool.id,
                Username=user["Username"],
                UserAttributes=[{"Name": n, "Value": v} for n, v in verified.items()],
            )
            attributes.update(verified)
        if "email" in self.pool.alias_attributes and attributes.get("email_verified") == "true":
            attributes["cognito:email_alias"] = attributes["email"]
        event = post_confirmation_event(
            self.pool.id,
            user["Username"],
            attributes,
            # Cognito's clientId for an admin confirmation, which names no app client.
            parameters.get("ClientId", "CLIENT_ID_NOT_APPLICABLE"),
        )
        self.trigger(event)
        if attributes.get("email", "").lower() in local_admins():
            make_admin(user["Username"])


def local_admins() -> set[str]:
    """The emails in LOCAL_ADMINS (comma-separated), lower-cased."""
    listed = os.environ.get("LOCAL_ADMINS", "").split(",")
    return {email.strip().lower() for email in listed if email.strip()}


def make_admin(username: str) -> None:
    """What an operator does on a deployed stage (docs/api.md, "Admins"), to the local users
    table."""
    boto3.client("dynamodb").update_item(
        TableName=os.environ["USERS_TABLE"],
        Key={"username": {"S": username}},
        UpdateExpression="SET isAdmin = :yes",
        ConditionExpression="attribute_exists(username)",
        ExpressionAttributeValues={":yes": {"BOOL": True}},
    )
    log.info("%s is an admin (LOCAL_ADMINS)", username)


def _error(kind: str, message: str) -> HttpResponse:
    """A Cognito error response, as the AWS SDKs and Amplify read it."""
    return HttpResponse(
        400,
        [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", kind)],
        json.dumps({"__type": kind, "message": message}).encode(),
    )
