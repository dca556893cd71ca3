/*
 * test-version.c - the versions agree: configure's (PACKAGE_VERSION, from
 * AC_INIT), the headers' (OSEV_VERSION_*), and the library's at run time
 * (osev_version(), osev_version_string()).
 */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

/* The header's own arithmetic, checked where a caller would use it. */
#if OSEV_VERSION_HEX != \
    ((OSEV_VERSION_MAJOR << 16) | (OSEV_VERSION_MINOR << 8) | \
     OSEV_VERSION_PATCH)
#error "OSEV_VERSION_HEX is not (major << 16) | (minor << 8) | patch"
#endif
#if OSEV_VERSION_MINOR > 255 || OSEV_VERSION_PATCH > 255
#error "minor and patch must fit in 8 bits of OSEV_VERSION_HEX"
#endif

/* "a.b.c" with nothing after it, each a decimal number. */
static bool parse_version(const char *s, unsigned v[3])
{
    int end = -1;

    if (sscanf(s, "%u.%u.%u%n", &v[0], &v[1], &v[2], &end) != 3)
        return false;
    return end > 0 && s[end] == '\0';
}

START_TEST(header_matches_configure)
{
    unsigned v[3];

    ck_assert_str_eq(OSEV_VERSION_STRING, PACKAGE_VERSION);
    ck_assert(parse_version(OSEV_VERSION_STRING, v));
    ck_assert_uint_eq(v[0], OSEV_VERSION_MAJOR);
    ck_assert_uint_eq(v[1], OSEV_VERSION_MINOR);
    ck_assert_uint_eq(v[2], OSEV_VERSION_PATCH);
}
END_TEST

START_TEST(library_matches_header)
{
    ck_assert_uint_eq(osev_version(), OSEV_VERSION_HEX);
    ck_assert_ptr_nonnull(osev_version_string());
    ck_assert_str_eq(osev_version_string(), OSEV_VERSION_STRING);
    /* static: the same string on every call */
    ck_assert_ptr_eq(osev_version_string(), osev_version_string());
}
END_TEST

START_TEST(number_and_string_agree)
{
    unsigned v[3];

    ck_assert(parse_version(osev_version_string(), v));
    ck_assert_uint_lt(v[1], 256);
    ck_assert_uint_lt(v[2], 256);
    ck_assert_uint_eq(osev_version(), (v[0] << 16) | (v[1] << 8) | v[2]);
}
END_TEST

/* The packing orders releases as their numbers do. */
START_TEST(hex_orders_releases)
{
#define PACK(a, b, c) (((a) << 16) | ((b) << 8) | (c))
    ck_assert_uint_lt(PACK(0u, 1u, 0u), PACK(0u, 1u, 1u));
    ck_assert_uint_lt(PACK(0u, 1u, 255u), PACK(0u, 2u, 0u));
    ck_assert_uint_lt(PACK(0u, 255u, 255u), PACK(1u, 0u, 0u));
    ck_assert_uint_eq(PACK(1u, 2u, 3u), 0x010203u);
#undef PACK
}
END_TEST

static Suite *version_suite(void)
{
    Suite *s = suite_create("version");
    TCase *tc = tcase_create("version");

    tcase_add_test(tc, header_matches_configure);
    tcase_add_test(tc, library_matches_header);
    tcase_add_test(tc, number_and_string_agree);
    tcase_add_test(tc, hex_orders_releases);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(version_suite());
}
