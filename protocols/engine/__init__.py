"""The B12 protocol engine: pure Python, no Django. Facts and a date in, an evaluation out."""
