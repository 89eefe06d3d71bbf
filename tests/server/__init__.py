"""Tests of plexio.server (layer L3): the Socket.IO server over real uvicorn."""
