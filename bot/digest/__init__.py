"""The weekly digest for managers: its chart and where it is posted."""
