# The curl bridge: filled in by its own change.
