"""`recordflow demo`: sample documents of every kind (samples.py, signed by signing.py) sent
through the local stack end to end (run.py)."""
