"""Tests of plexio.server.adapters."""
