/*
 * task_cache.h: the JSON of recently read tasks, by id, for GET /tasks/{id}.
 *
 * Reading a task costs a SQLite read transaction, an unpack and a JSON
 * encoding; the cache answers repeated reads with the bytes already made.
 * It is owned by one thread (the gateway's loop), except for
 * orch_task_cache_invalidate(), which the store's commit listener calls
 * from the writer thread after each commit and before any acknowledgement.
 * Lookups first drop every invalidated id, so a read that starts after a
 * write was acknowledged never sees the old bytes, and an entry filled from
 * a read that raced a commit is dropped by that commit's invalidation.
 * At most cap entries are kept; the oldest goes first.
 */
#ifndef ORCH_TASK_CACHE_H
#define ORCH_TASK_CACHE_H

#include <stddef.h>

struct orch_task_cache;

/* Returns ORCH_OK or ORCH_ENOMEM. */
int orch_task_cache_new(size_t cap, struct orch_task_cache **out /* OUT */);
void orch_task_cache_free(struct orch_task_cache *c);

/* Any thread: the task with this id changed. */
void orch_task_cache_invalidate(struct orch_task_cache *c, const char *id);

/* Owner thread: the cached JSON of id (valid until the next put or get),
 * or NULL. */
const char *orch_task_cache_get(
    struct orch_task_cache *c, const char *id, size_t *len /* OUT */);

/* Owner thread: caches a copy of json for id.  Silently does nothing when
 * out of memory. */
void orch_task_cache_put(
    struct orch_task_cache *c, const char *id, const char *json, size_t len);

#endif
