"""Tests of the community application (community/)."""

from __future__ import annotations
