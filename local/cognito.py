"""The Cognito endpoint: moto's Cognito, plus the PostConfirmation trigger moto does not fire.

Every Cognito API call (a POST with `X-Amz-Target: AWSCognitoIdentityProviderService.<Action>`)
is forwarded to moto as it is. Once a ConfirmSignUp or AdminConfirmSignUp succeeds, the
PostConfirmation function runs with the event Cognito would send; if it fails, the caller gets
Cognito's error for a failed trigger while the user stays confirmed, as with Cognito.
"""

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3

from local.aws import UserPool
from local.events import HttpRequest, HttpResponse, post_confirmation_event

log = logging.getLogger("local")

TARGET_PREFIX = "AWSCognitoIdentityProviderService."
_CONFIRMATIONS = {"ConfirmSignUp", "AdminConfirmSignUp"}
_FORWARDED_REQUEST_HEADERS = {"content-type", "authorization", "x-amz-target", "x-amz-date"}
_FORWARDED_RESPONSE_HEADERS = {"content-type", "x-amzn-requestid", "x-amzn-errortype"}


class CognitoEndpoint:
    def __init__(
        self, moto_url: str, pool: UserPool, trigger: Callable[[dict[str, Any]], Any] | None
    ):
        self.moto_url = moto_url
        self.pool = pool
        self.trigger = trigger

    def handle(self, request: HttpRequest) -> tuple[HttpResponse, str]:
        """moto's (or the trigger's) response, and the action for the log."""
        action = (request.header("x-amz-target") or "").removeprefix(TARGET_PREFIX)
        response = self._forward(request)
        if response.status == 200 and action in _CONFIRMATIONS and self.trigger:
            try:
                self._confirmed(json.loads(request.body))
            except Exception as error:
                log.exception("PostConfirmation trigger failed")
                body = {
                    "__type": "UserLambdaValidationException",
                    "message": f"PostConfirmation failed with error {error}.",
                }
                response = HttpResponse(
                    400,
                    [("Content-Type", "application/x-amz-json-1.1")],
                    json.dumps(body).encode(),
                )
        return response, action or "?"

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
