"""Database layer: URL normalisation, engine, sessions, declarative base, migrations."""
