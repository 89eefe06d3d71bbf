"""Compatibility layers for code written against other Socket.IO libraries."""
