"""Approvals: people saying yes or no to a deploy waiting at a gate.

`votes` is the pure part (who counts, and the tally against a gate's policy). May import
`intake`, `rollout`, `observe`, `aws` and the base modules; must never import `queue`,
`app` or `cli`.
"""
