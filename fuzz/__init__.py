"""Fuzz targets of the decoders (``make fuzz``, ``python -m fuzz.run``)."""
