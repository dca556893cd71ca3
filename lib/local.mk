# The core library.
include_HEADERS += include/osevent.h
lib_LTLIBRARIES += lib/libosevent.la
lib_libosevent_la_SOURCES = \
	lib/internal.h \
	lib/list.h \
	lib/ctx.c \
	lib/fdwatch.c \
	lib/timer.c \
	lib/dispatch.c \
	lib/pull.c \
	lib/hooks.c \
	lib/event.c \
	lib/signal.c \
	lib/child.c \
	lib/loop.c \
	lib/thread.c \
	lib/evtype.c \
	lib/stats.c \
	lib/backend.h \
	lib/backend-epoll.c \
	lib/backend-poll.c
lib_libosevent_la_CPPFLAGS = $(AM_CPPFLAGS) -DOSEV_BUILDING_LIBRARY
lib_libosevent_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
# Only the public API leaves the shared object; tests/symbols.sh checks it.
lib_libosevent_la_LDFLAGS = -version-info $(OSEV_LT_VERSION) -no-undefined \
	-export-symbols-regex '^osev_[a-z]'
