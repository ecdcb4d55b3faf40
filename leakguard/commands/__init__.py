"""Sub-commands of the ``leakguard`` CLI, one module each (see :mod:`leakguard.cli`)."""
