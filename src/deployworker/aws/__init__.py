"""Thin boto3 adapters: the only code that talks to AWS, and the only place retries live."""
