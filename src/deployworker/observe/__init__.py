"""Observe: metrics, deploy events, logs and the health endpoint.

A listener: the other parts call it through narrow callables (`Emit`, metric methods)
that `app` wires up. May import only `aws` (to publish events) and the base modules;
it never imports the stages it observes.
"""
