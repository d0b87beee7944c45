"""The structured JSON logger every function shares; request id and caller are added per request."""

from aws_lambda_powertools import Logger

logger = Logger(service="dojo-scheduler")
