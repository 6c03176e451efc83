"""What a write that breaks a schema constraint raises, whatever the database under it.

The catalog's implementation translates its driver's integrity errors into these, so services
and jobs catch these and never a driver's exception. They are not ``RegistryError``s: a service
that expects one (a row deleted meanwhile) turns it into a domain error; one nobody expected
is a defect, and becomes a 500 with its traceback in the log.

::

    ConstraintViolated          NOT NULL, CHECK, or any other constraint
    ├ ForeignKeyViolated        a row names one that does not exist (any more)
    └ UniqueViolated            a row with the same key (or primary key) exists already

One is a ``RegistryError``, since nobody can do anything about it but try again:

    Unavailable (503)
    └ WriteConflict             PostgreSQL aborted the transaction: a deadlock with another
                                writer, or a failed serialization check (catalog/postgres.py)
"""

from __future__ import annotations

from registry_service.errors import Unavailable


class ConstraintViolated(Exception):
    """A write broke a constraint of the schema; the message is the database's."""


class ForeignKeyViolated(ConstraintViolated):
    pass


class UniqueViolated(ConstraintViolated):
    pass


class WriteConflict(Unavailable):
    """The database aborted a write transaction to let a concurrent one go on; the same
    transaction, run again, normally succeeds (``run_write`` does; a client gets 503)."""
