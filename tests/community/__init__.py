"""Tests of the community application (community/)."""
