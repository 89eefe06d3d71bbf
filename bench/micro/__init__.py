"""In-process micro-benchmarks of the sans-I/O layers and the server path (no network):
``python -m bench.micro.socketio_codec``, ``python -m bench.micro.server_echo``."""
