"""Tests of the Socket.IO v5 sans-I/O core (plexio.socketio)."""
