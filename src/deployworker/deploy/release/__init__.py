"""Releases: one message ships an image to every service, schedule and rule of a release.

Plans one new revision per task-definition family, runs the migration once, updates
the phases in order and puts every changed member back when one fails. May import
`deploy` (plan, apply, migrate), `rollout`, `intake`, `aws`, `observe` and the shared
vocabulary; only `deploy/pipeline.py` and `app` import it, never `rollout` or `intake`.
"""
