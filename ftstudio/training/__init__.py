"""Training runs: run folders, the child-process worker, and the app-side manager that polls them."""
