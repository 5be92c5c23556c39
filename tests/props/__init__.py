# Hypothesis properties of the core (CPython only).
