"""``python -m gqn.cli``: the ``gqn`` command (as ``mpiexec`` runs it)."""
import sys

from gqn.cli import main

sys.exit(main())
