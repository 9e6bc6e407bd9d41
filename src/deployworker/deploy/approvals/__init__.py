"""Approvals: people saying yes or no to a deploy waiting at a gate.

`votes` and `ballot` are pure (who counts, the tally, votes as revision tags); `book`
finds a deploy's revision and reads its votes back; `receive` handles approval messages.
May import `intake`, `rollout`, `observe`, `aws` and the base modules; must never import
`queue`, `app` or `cli`.
"""
