"""Deploy: plan, apply and carry one deploy from its admission to its outcome.

Plans the new revision (pure), registers it, runs the migration, updates the service,
hands the rollout to `rollout` and turns its verdict into a `Result`. May import
`intake`, `rollout`, `observe`, `aws` and the top-level base modules; must never import
`queue`, `app` or `cli`.
"""
