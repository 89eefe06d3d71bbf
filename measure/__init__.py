"""Process and machine readers shared by the benchmarks (``bench``) and the topology
measurement (``topology``), and the headless chromium launch the topology measurement and
the end-to-end tests share: one home, so neither imports the other."""
