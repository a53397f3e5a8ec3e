"""Herald's command language: one grammar, one set of handlers, for every front-end."""
