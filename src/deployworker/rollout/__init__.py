"""Rollout: follow a service's deployment until ECS says how it ended.

The watcher batches describe calls for every deployment in flight; `assess` turns one
service document into a verdict (pure). May import `aws`, `observe` and the base
modules; must never import `intake`, `deploy`, `queue`, `app` or `cli`.
"""
