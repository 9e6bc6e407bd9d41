"""The deploy ledger: a DynamoDB item per (target, deploy_id), the worker's record of every
message it takes. `states` (the states and their order) and `record` (a transition as one
conditional write, an item as an `Entry`) are pure; `write` is the worker's writer, `read`
the query interface of `status`, `history` and the board. Imports only `aws`, `errors`,
`failpoints` and `outcome`; `observe` and every layer above may import it.
"""
