"""Scripts that train the committed models of ``verify/weights/`` (each records how to regenerate them)."""
