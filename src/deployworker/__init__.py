"""deployworker: deploys container images to AWS ECS, driven by SQS FIFO messages."""

__version__ = "0.1.0"
