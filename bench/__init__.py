"""Benchmarks: seed a large realistic database and time Herald's commands against it."""
