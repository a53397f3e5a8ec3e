"""Herald's storage: SQLModel tables, the engine, migrations and the queries."""
