# The dbus bridge: filled in by its own change.
