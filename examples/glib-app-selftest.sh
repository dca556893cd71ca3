#!/bin/sh
# make check: glib-app --self-test (a GMainLoop hosting osevent through
# osev_glib_attach, events pushed to an event_occurs hook).
# The program has its own 10 s deadline, so this cannot hang.
exec "${top_builddir:-.}/examples/glib-app" --self-test
