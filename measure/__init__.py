"""What the benchmarks (``bench``), the topology measurement (``topology``) and the tests
share: process and machine readers, a private redis-server and its options, a server
process in a group of its own, the headless chromium launch. One home, so none of them
imports another."""
