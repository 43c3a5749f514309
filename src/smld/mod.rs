//! Chapter 3 — from SMLD/NCSN to SDEs (seed 000 §三, seed 001 §3.1.1).
