"""Repositories: queries and writes for one aggregate each (one module per aggregate). They
never commit: the unit of work (``storage.uow``) does."""
