"""``python -m verify.sweeps`` runs the sweep driver (:mod:`verify.sweeps.sweep`)."""
import sys

from verify.sweeps.sweep import main

sys.exit(main())
