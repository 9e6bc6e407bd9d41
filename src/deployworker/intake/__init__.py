"""Intake: everything checked before AWS is touched.

Parses the message body (or SNS envelope), verifies its signature, checks its scope
and the allowlist. Pure but for reading the allowlist file. May import `aws` (message
types only), `errors` and `settings`; must never import `deploy`, `queue`, `app` or `cli`.
"""
