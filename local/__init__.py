"""The whole backend on one machine, without AWS: `python -m local` (`make run`).

API Gateway (routes, JWT authorizer, CORS) and Lambda are emulated here, in front of the real
handlers; DynamoDB and Cognito are moto's, embedded. Everything is built from serverless.yml.
"""
