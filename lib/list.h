/*
 * list.h - intrusive circular doubly-linked lists (internal).
 *
 * A node that is not on any list points at itself, so unlinking is
 * idempotent: osev__list_unlink() on an unlinked node does nothing.
 */
#ifndef OSEV_LIST_H
#define OSEV_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct osev__list {
    struct osev__list *prev, *next;
};

#define osev__container_of(ptr, type, member)                                \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static inline void osev__list_init(struct osev__list *l)
{
    l->prev = l->next = l;
}

static inline bool osev__list_empty(const struct osev__list *l)
{
    return l->next == l;
}

static inline void osev__list_append(struct osev__list *head,
                                     struct osev__list *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

static inline void osev__list_unlink(struct osev__list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    osev__list_init(n);
}

/* Move every node of @from to the tail of @to, leaving @from empty. */
static inline void osev__list_splice(struct osev__list *to,
                                     struct osev__list *from)
{
    if (osev__list_empty(from))
        return;
    from->next->prev = to->prev;
    to->prev->next = from->next;
    from->prev->next = to;
    to->prev = from->prev;
    osev__list_init(from);
}

/* Unlink and return the first node, or NULL when the list is empty. */
/* The number of entries on @head: O(n), for diagnostics. */
static inline unsigned osev__list_len(const struct osev__list *head)
{
    unsigned n = 0;

    for (const struct osev__list *l = head->next; l != head; l = l->next)
        n++;
    return n;
}

static inline struct osev__list *osev__list_pop(struct osev__list *head)
{
    struct osev__list *n = head->next;

    if (n == head)
        return NULL;
    osev__list_unlink(n);
    return n;
}

#endif
