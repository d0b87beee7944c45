"""Models and the DynamoDB repository: the only code that knows tables, keys and boto3."""
