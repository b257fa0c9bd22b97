"""Proofs from outside: tools a test lab puts between a clean target and the harness to inject one defect."""
