"""Analysis: measure a metric and judge the measurements (Argo Rollouts' model).

`measure` holds the vocabulary and the pure verdict; providers (Prometheus,
CloudWatch) each turn one query into a `Measurement`. May import `aws`, `observe` and
the base modules; must never import `intake`, `deploy`, `queue`, `app` or `cli`.
"""
