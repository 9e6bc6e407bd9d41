"""The deploy board: a read-only web page and its JSON API over the deploy ledger.

`view` and `hints` are pure (ledger entries as the API's documents, redacted); `cache`
reads the ledger through a short cache shared by every viewer; `web` is the WSGI app
that `observe.httpd` mounts beside `/metrics`. Imports `ledger`, `observe`, `settings`
and `aws`; only `app` and `cli` import it.
"""
