/*
 * version.c - osev_version(), osev_version_string(): the version this
 * library was built as, from the same generated header (osevent-version.h)
 * that programs are built with.
 */
#include "internal.h"

OSEV_EXPORT unsigned osev_version(void)
{
    return OSEV_VERSION_HEX;
}

OSEV_EXPORT const char *osev_version_string(void)
{
    return OSEV_VERSION_STRING;
}
