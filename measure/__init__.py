"""Process and machine readers shared by the benchmarks (``bench``) and the topology
measurement (``topology``): one home, so neither imports the other."""
