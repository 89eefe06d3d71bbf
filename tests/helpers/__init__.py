"""Test harness shared by the suites: real servers, Node scripts, small apps."""
