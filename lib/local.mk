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
	lib/notify.c \
	lib/backend.h \
	lib/backend-poll.c
# epoll, and the aggregate fd made of it: not with --disable-linux-apis.
if OSEV_LINUX_APIS
lib_libosevent_la_SOURCES += lib/backend-epoll.c
endif
lib_libosevent_la_CPPFLAGS = $(AM_CPPFLAGS) -DOSEV_BUILDING_LIBRARY
lib_libosevent_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
# Only the public API leaves the shared object; tests/symbols.sh checks it.
lib_libosevent_la_LDFLAGS = -version-info $(OSEV_LT_VERSION) -no-undefined \
	-export-symbols-regex '^osev_[a-z]'
