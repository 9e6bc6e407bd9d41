"""AWS: thin boto3 adapters, the only code that talks to AWS.

Each adapter maps `ClientError` codes to retryable or permanent errors, and this is
the only place retries (tenacity) and the per-operation token buckets live. May import
only `errors`; every stage above may import it, and it imports none of them.
"""
