/*
 * evtype.c - event types by name, so that several producers can post to
 * one context without picking the same numbers.  A name, once given a
 * type, keeps it until the context ends; lookups walk at most 64 names,
 * which no hot path does.
 */
#include "internal.h"

#include <string.h>

/* The length of @name if it is a valid type name, else -EINVAL. */
static int name_check(const char *name)
{
    size_t len;

    if (!name)
        return -EINVAL;
    len = strnlen(name, OSEV_EVENT_TYPE_NAME_MAX + 1);
    if (len == 0 || len > OSEV_EVENT_TYPE_NAME_MAX)
        return -EINVAL;
    return (int)len;
}

/* The type named @name, or -ENOENT (locked). */
static int type_of(const osev_ctx *ctx, const char *name)
{
    for (int t = OSEV_EVENT_TYPE_MAX; t >= 0; t--)
        if (ctx->evtype_name[t] && strcmp(ctx->evtype_name[t], name) == 0)
            return t;
    return -ENOENT;
}

/* Give @type the name @name (@len bytes), copied (locked). */
static int name_type(osev_ctx *ctx, unsigned type, const char *name,
                     size_t len)
{
    char *copy = osev__alloc(ctx, len + 1);

    if (!copy)
        return -ENOMEM;
    memcpy(copy, name, len + 1);
    ctx->evtype_name[type] = copy;
    return 0;
}

OSEV_EXPORT int osev_event_type_get(osev_ctx *ctx, const char *name)
{
    int len = name_check(name), r;

    if (!ctx || len < 0)
        return -EINVAL;
    osev__lock(ctx);
    r = type_of(ctx, name);
    if (r != -ENOENT)
        goto out;
    r = -ENOSPC;
    for (int t = OSEV_EVENT_TYPE_MAX; t >= 0; t--) {
        if (!ctx->evtype_name[t]) {
            r = name_type(ctx, (unsigned)t, name, (size_t)len);
            if (r == 0)
                r = t;
            break;
        }
    }
out:
    osev__unlock(ctx);
    return r;
}

OSEV_EXPORT int osev_event_type_reserve(osev_ctx *ctx, const char *name,
                                        unsigned type)
{
    int len = name_check(name), held, r;

    if (!ctx || len < 0 || type > OSEV_EVENT_TYPE_MAX)
        return -EINVAL;
    osev__lock(ctx);
    held = type_of(ctx, name);
    if (held == (int)type)
        r = 0;
    else if (held >= 0 || ctx->evtype_name[type])
        r = -EEXIST;
    else
        r = name_type(ctx, type, name, (size_t)len);
    osev__unlock(ctx);
    return r;
}

OSEV_EXPORT int osev_event_type_find(osev_ctx *ctx, const char *name)
{
    int r;

    if (!ctx || !name)
        return -EINVAL;
    osev__lock(ctx);
    r = type_of(ctx, name);
    osev__unlock(ctx);
    return r;
}

/* A name is never changed or freed before the context ends, so it may be
 * read without the lock once the pointer is taken. */
OSEV_EXPORT const char *osev_event_type_name(osev_ctx *ctx, unsigned type)
{
    const char *name;

    if (!ctx || type > OSEV_EVENT_TYPE_MAX)
        return NULL;
    osev__lock(ctx);
    name = ctx->evtype_name[type];
    osev__unlock(ctx);
    return name;
}

void osev__evtypes_free(osev_ctx *ctx)
{
    for (unsigned t = 0; t <= OSEV_EVENT_TYPE_MAX; t++) {
        osev__free(ctx, ctx->evtype_name[t]);
        ctx->evtype_name[t] = NULL;
    }
}
