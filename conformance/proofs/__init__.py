"""Proofs from outside: tools a test lab puts between a clean target and the harness to inject one defect, and
the faults the proofs install into our own reference servers through their public seams (the servers hold none)."""
