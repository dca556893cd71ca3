# Documentation: one man page per public function (docs/man), the guide and
# the design notes.  docs/man-lint.sh checks that every osev_ function of
# include/osevent.h has a page and, when mandoc is installed, that every page
# lints clean.
dist_man3_MANS += \
	docs/man/osev_afterpoll.3 \
	docs/man/osev_afterselect.3 \
	docs/man/osev_beforepoll.3 \
	docs/man/osev_beforeselect.3 \
	docs/man/osev_child_add.3 \
	docs/man/osev_child_remove.3 \
	docs/man/osev_ctx_free.3 \
	docs/man/osev_ctx_new.3 \
	docs/man/osev_defer.3 \
	docs/man/osev_disaster.3 \
	docs/man/osev_dispatch.3 \
	docs/man/osev_event_check.3 \
	docs/man/osev_event_free.3 \
	docs/man/osev_event_new.3 \
	docs/man/osev_event_post.3 \
	docs/man/osev_event_set_hooks.3 \
	docs/man/osev_event_type_find.3 \
	docs/man/osev_event_type_get.3 \
	docs/man/osev_event_type_name.3 \
	docs/man/osev_event_type_reserve.3 \
	docs/man/osev_event_wait.3 \
	docs/man/osev_fd_add.3 \
	docs/man/osev_fd_modify.3 \
	docs/man/osev_fd_remove.3 \
	docs/man/osev_fd_set_release.3 \
	docs/man/osev_get_deadline.3 \
	docs/man/osev_get_fd.3 \
	docs/man/osev_get_hook_stats.3 \
	docs/man/osev_get_registry_stats.3 \
	docs/man/osev_loop_exit.3 \
	docs/man/osev_loop_once.3 \
	docs/man/osev_loop_run.3 \
	docs/man/osev_ms.3 \
	docs/man/osev_now.3 \
	docs/man/osev_occurred_fd.3 \
	docs/man/osev_occurred_timeout.3 \
	docs/man/osev_s.3 \
	docs/man/osev_schedule.3 \
	docs/man/osev_set_hooks.3 \
	docs/man/osev_signal_add.3 \
	docs/man/osev_signal_remove.3 \
	docs/man/osev_strerror.3 \
	docs/man/osev_timer_add.3 \
	docs/man/osev_timer_remove.3 \
	docs/man/osev_timer_set.3 \
	docs/man/osev_timer_set_release.3 \
	docs/man/osev_version.3 \
	docs/man/osev_version_string.3 \
	docs/man/osev_wakeup.3 \
	docs/man/osevent.3

TESTS += docs/man-lint.sh
# docs/man-errors.sh: each page's ERRORS lists the errors its function's
# header comment names; docs/man-errors-test.sh tests that check itself.
TESTS += docs/man-errors.sh docs/man-errors-test.sh
EXTRA_DIST += docs/man-errors.sh docs/man-errors-test.sh
EXTRA_DIST += docs/man-lint.sh docs/guide.md docs/design.md docs/threads.md \
	docs/performance.md docs/performance-ir.png docs/wrapping.md
