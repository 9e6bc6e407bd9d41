"""Queue: the SQS side of the worker, receive to settle.

The poll loop fans messages out by group, the heartbeat keeps them invisible while
their deploys run, and `settle` deletes, dead-letters or hands them back. May import
`deploy`, `intake`, `observe`, `aws` and the base modules; only `app` imports it.
"""
