#!/bin/sh
# make check: virt-events --self-test (libvirt's test driver, its events
# served by osevent's built-in loop through osev_virt_register_impl).
exec "${top_builddir:-.}/examples/virt-events" --self-test
