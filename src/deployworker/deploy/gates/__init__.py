"""Gates: judging a deploy that waits at a PAUSE hook or after it converged.

`decide` is the pure state machine (metrics, votes, deadlines); `runner` drives it
with a provider and a vote book, and continues or rolls back the service deployment.
May import `intake`, `rollout`, `observe`, `aws`, `deploy.approvals` and the base
modules; must never import `queue`, `app` or `cli`.
"""
