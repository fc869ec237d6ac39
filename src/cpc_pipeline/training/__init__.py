"""One training loop for every method, and the methods' batch construction."""
