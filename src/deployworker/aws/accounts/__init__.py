"""Other accounts and regions: assumed-role sessions and API budgets per (account, region).

`sessions` keeps one botocore session per (role, region) on the SDK's own refreshable
assumed-role credentials; `budgets` keeps token buckets per operation per target, with
AIMD backoff on throttling; `targets` hands out a `Factory` for each target. Part of
`aws`: may import only `aws` and `errors`, and nothing in `aws` outside it imports it.
"""
