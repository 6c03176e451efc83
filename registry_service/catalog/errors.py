"""What a write that breaks a schema constraint raises, whatever the database under it.

The catalog's implementation translates its driver's integrity errors into these, so services
and jobs catch these and never a driver's exception. They are not ``RegistryError``s: a service
that expects one (a row deleted meanwhile) turns it into a domain error; one nobody expected
is a defect, and becomes a 500 with its traceback in the log.

::

    ConstraintViolated          NOT NULL, CHECK, or any other constraint
    ├ ForeignKeyViolated        a row names one that does not exist (any more)
    └ UniqueViolated            a row with the same key (or primary key) exists already
"""

from __future__ import annotations


class ConstraintViolated(Exception):
    """A write broke a constraint of the schema; the message is the database's."""


class ForeignKeyViolated(ConstraintViolated):
    pass


class UniqueViolated(ConstraintViolated):
    pass
