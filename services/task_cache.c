#include "task_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "task.h"

struct entry {
	char id[ORCH_ID_LEN];
	char *json;
	size_t len;
	struct entry *next; /* bucket chain */
};

struct orch_task_cache {
	struct entry **buckets;
	size_t mask; /* buckets - 1, a power of two minus one */
	size_t cap;
	char (*fifo)[ORCH_ID_LEN]; /* ids in insertion order, a ring */
	size_t fifo_head, fifo_len;

	pthread_mutex_t mu; /* guards the invalidation list */
	atomic_bool dirty;  /* the list is not empty */
	char (*inval)[ORCH_ID_LEN];
	size_t n_inval, inval_cap;
	bool inval_overflow; /* too many to list: drop everything */
};

static size_t
hash_id(const char *id)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ULL;
	return (size_t)h;
}

int
orch_task_cache_new(size_t cap, struct orch_task_cache **out)
{
	struct orch_task_cache *c = calloc(1, sizeof(*c));
	size_t nb = 16;

	if (c == NULL)
		return ORCH_ENOMEM;
	while (nb < cap * 2)
		nb *= 2;
	c->buckets = calloc(nb, sizeof(*c->buckets));
	c->fifo = calloc(cap > 0 ? cap : 1, sizeof(*c->fifo));
	c->inval_cap = 1024;
	c->inval = calloc(c->inval_cap, sizeof(*c->inval));
	if (c->buckets == NULL || c->fifo == NULL || c->inval == NULL) {
		free(c->buckets);
		free(c->fifo);
		free(c->inval);
		free(c);
		return ORCH_ENOMEM;
	}
	c->mask = nb - 1;
	c->cap = cap;
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return ORCH_OK;
}

static void
remove_id(struct orch_task_cache *c, const char *id)
{
	struct entry **pp = &c->buckets[hash_id(id) & c->mask];

	for (; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->id, id) == 0) {
			struct entry *e = *pp;

			*pp = e->next;
			free(e->json);
			free(e);
			return;
		}
	}
}

static void
clear_all(struct orch_task_cache *c)
{
	for (size_t i = 0; i <= c->mask; i++) {
		while (c->buckets[i] != NULL) {
			struct entry *e = c->buckets[i];

			c->buckets[i] = e->next;
			free(e->json);
			free(e);
		}
	}
	c->fifo_head = c->fifo_len = 0;
}

void
orch_task_cache_free(struct orch_task_cache *c)
{
	if (c == NULL)
		return;
	clear_all(c);
	pthread_mutex_destroy(&c->mu);
	free(c->buckets);
	free(c->fifo);
	free(c->inval);
	free(c);
}

void
orch_task_cache_invalidate(struct orch_task_cache *c, const char *id)
{
	pthread_mutex_lock(&c->mu);
	if (c->n_inval < c->inval_cap)
		snprintf(c->inval[c->n_inval++], ORCH_ID_LEN, "%s", id);
	else
		c->inval_overflow = true; /* never block the writer on memory */
	atomic_store(&c->dirty, true);
	pthread_mutex_unlock(&c->mu);
}

/* Applies the invalidations queued since the last call. */
static void
drain(struct orch_task_cache *c)
{
	if (!atomic_load(&c->dirty))
		return;
	pthread_mutex_lock(&c->mu);
	if (c->inval_overflow) {
		clear_all(c);
	} else {
		for (size_t i = 0; i < c->n_inval; i++)
			remove_id(c, c->inval[i]);
	}
	c->n_inval = 0;
	c->inval_overflow = false;
	atomic_store(&c->dirty, false);
	pthread_mutex_unlock(&c->mu);
}

const char *
orch_task_cache_get(struct orch_task_cache *c, const char *id, size_t *len)
{
	struct entry *e;

	drain(c);
	for (e = c->buckets[hash_id(id) & c->mask]; e != NULL; e = e->next) {
		if (strcmp(e->id, id) == 0) {
			*len = e->len;
			return e->json;
		}
	}
	return NULL;
}

void
orch_task_cache_put(
    struct orch_task_cache *c, const char *id, const char *json, size_t len)
{
	struct entry *e;
	size_t b;

	if (c->cap == 0 || strlen(id) >= ORCH_ID_LEN)
		return;
	remove_id(c, id);
	if (c->fifo_len == c->cap) {
		/* Evict the oldest; it may be gone already (invalidated). */
		remove_id(c, c->fifo[c->fifo_head]);
		c->fifo_head = (c->fifo_head + 1) % c->cap;
		c->fifo_len--;
	}
	if ((e = malloc(sizeof(*e))) == NULL)
		return;
	if ((e->json = malloc(len > 0 ? len : 1)) == NULL) {
		free(e);
		return;
	}
	memcpy(e->json, json, len);
	e->len = len;
	snprintf(e->id, sizeof(e->id), "%s", id);
	b = hash_id(id) & c->mask;
	e->next = c->buckets[b];
	c->buckets[b] = e;
	snprintf(c->fifo[(c->fifo_head + c->fifo_len) % c->cap], ORCH_ID_LEN,
	    "%s", id);
	c->fifo_len++;
}
