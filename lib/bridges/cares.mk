# The cares bridge: filled in by its own change.
