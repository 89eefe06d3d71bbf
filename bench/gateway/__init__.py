"""Load test of the community gateway's hot path against a framework-free reference.

``python -m bench.gateway`` (``make bench-gateway``) drives the real gateway through its REST
set-up and socket events, and the same socket events against :mod:`bench.gateway.reference`
on the same database; see ``bench/gateway/README.md``.
"""
