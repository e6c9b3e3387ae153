/*
 * task_list.c: GET /tasks, page by page (see task_list.h).
 *
 * A list holds one page of decoded tasks and renders them, a few at a
 * time, into a small buffer of JSON text, which it hands to the gateway
 * in pieces while the gateway holds less than a quarter of its cap
 * unsent for the client (orch_gw_stream_full()).  When the client has
 * taken enough, the gateway calls writable() and the list goes on from
 * where it stopped; the next page is read only once the last task of
 * the one before has been rendered.  Each rendered task is freed at
 * once.  Everything here runs on the gateway's loop thread, so no lock
 * is needed but for the counters, which other threads may read.
 */
#include "task_list.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "log.h"
#include "task_json.h"

#define TL_COMPONENT "api"
/* Rendered text is handed to the gateway in pieces of at most this, and
 * rendering stops once this much waits. */
#define PIECE (16 * 1024)
/* The rendered text of one task is far smaller (a request body is at
 * most 1 MiB); the cap only bounds a bug. */
#define OUT_MAX (64u * 1024 * 1024)
#define ERR_MAX 256

/* One list being sent. */
struct tlist {
	struct orch_task_list *tl;
	struct tlist *prev, *next;
	struct orch_gw_stream *s; /* NULL until it streams */
	int status;               /* 0: every task */
	struct orch_store_task_page page;
	size_t next_task; /* page.tasks[next_task..] are not rendered yet */
	bool started;     /* "[" is rendered */
	bool any;         /* a task is rendered: the next needs a comma */
	bool done;        /* "]" is rendered: nothing more to read */
	struct orch_buf out;
	size_t out_off; /* out.p[out_off..] is not handed to the gateway */
};

struct orch_task_list {
	struct orch_store_reader *reader;
	struct tlist *lists; /* streaming */
	size_t n_lists;
	_Atomic uint64_t streams, streamed, cut, waits, held_max;
};

/* ---- rendering ---- */

static int
out_append(const char *buffer, size_t size, void *data)
{
	return orch_buf_append(data, buffer, size) == size || size == 0 ? 0
	                                                                : -1;
}

static void
tlist_page_free(struct tlist *l)
{
	orch_store_task_list_free(l->page.tasks, l->page.n);
	l->page.tasks = NULL;
	l->page.n = 0;
	l->next_task = 0;
}

/* Reads the page after l's cursor; the first is read with the cursor 0. */
static int
tlist_read(struct tlist *l)
{
	uint64_t after = l->page.last, held;
	int rc;

	tlist_page_free(l);
	rc = orch_store_task_page(l->tl->reader, l->status, after,
	    ORCH_TASK_LIST_PAGE, ORCH_TASK_LIST_PAGE_BYTES, &l->page);
	if (rc != ORCH_OK) {
		l->page.last = after;
		return rc;
	}
	held = atomic_load(&l->tl->held_max);
	while (l->page.n > held &&
	    !atomic_compare_exchange_weak(&l->tl->held_max, &held, l->page.n))
		;
	return ORCH_OK;
}

/*
 * Renders the next tasks of l's page into l->out, freeing each, until
 * upto bytes wait or the page is done; after the last page, the closing
 * bracket.  The text is that of json_dumpb(array, JSON_COMPACT) and a
 * newline, as every answer of the API ends.  Returns ORCH_OK or
 * ORCH_ENOMEM.
 */
static int
tlist_render(struct tlist *l, size_t upto)
{
	if (!l->started) {
		if (out_append("[", 1, &l->out) != 0)
			return ORCH_ENOMEM;
		l->started = true;
	}
	while (l->next_task < l->page.n && l->out.len < upto) {
		orch_task **t = &l->page.tasks[l->next_task];
		json_t *j = orch_task_to_json(*t);
		int bad = j == NULL ||
		    (l->any && out_append(",", 1, &l->out) != 0) ||
		    json_dump_callback(j, out_append, &l->out, JSON_COMPACT) !=
		        0;

		json_decref(j);
		if (bad)
			return ORCH_ENOMEM;
		orch_task_free(*t);
		*t = NULL;
		l->next_task++;
		l->any = true;
	}
	if (l->next_task == l->page.n && l->page.end) {
		if (out_append("]\n", 2, &l->out) != 0)
			return ORCH_ENOMEM;
		l->done = true;
	}
	return ORCH_OK;
}

/* Empties l->out once the gateway has it all; a buffer that grew for a
 * large task is let go. */
static void
tlist_out_reset(struct tlist *l)
{
	l->out_off = 0;
	if (l->out.cap > 4 * PIECE) {
		orch_buf_fini(&l->out);
		return;
	}
	l->out.len = 0;
	if (l->out.p != NULL)
		l->out.p[0] = '\0';
}

/* ---- streams ---- */

static void
tlist_free(struct tlist *l)
{
	tlist_page_free(l);
	orch_buf_fini(&l->out);
	free(l);
}

/* Forgets a streaming list and ends its stream: whole when msg is
 * NULL, else cut short with the trailer saying msg. */
static void
tlist_drop(struct tlist *l, const char *msg)
{
	struct orch_task_list *tl = l->tl;

	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		tl->lists = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	tl->n_lists--;
	atomic_fetch_sub(&tl->streams, 1);
	if (msg != NULL) {
		atomic_fetch_add(&tl->cut, 1);
		orch_gw_stream_end_error(l->s, "X-Orch-List-Error", msg);
	} else {
		orch_gw_stream_end(l->s);
	}
	tlist_free(l);
}

/*
 * Hands l's text to the gateway while its client keeps up, rendering and
 * reading pages as it goes; returns when the gateway holds enough (its
 * writable() calls again) or the list is over (l is freed).
 */
static void
tlist_pump(struct tlist *l)
{
	char msg[ERR_MAX];
	int rc;

	for (;;) {
		if (l->out_off < l->out.len) {
			size_t n = l->out.len - l->out_off,
			       room = orch_gw_stream_room(l->s);

			if (orch_gw_stream_full(l->s)) {
				atomic_fetch_add(&l->tl->waits, 1);
				return;
			}
			n = n < PIECE ? n : PIECE;
			n = n < room ? n : room;
			if (n == 0 ||
			    orch_gw_stream_write(
			        l->s, l->out.p + l->out_off, n) != ORCH_OK) {
				/* Closed: the gateway logged why. */
				tlist_drop(l, NULL);
				return;
			}
			l->out_off += n;
			continue;
		}
		tlist_out_reset(l);
		if (l->done) {
			tlist_drop(l, NULL);
			return;
		}
		if (l->next_task == l->page.n &&
		    (rc = tlist_read(l)) != ORCH_OK) {
			orch_warn(TL_COMPONENT,
			    "the task list to %s is cut short after task "
			    "seq %llu: %s",
			    orch_gw_stream_peer(l->s),
			    (unsigned long long)l->page.last,
			    orch_strerror(rc));
			snprintf(msg, sizeof(msg),
			    "cannot read tasks from the store (%s): the list "
			    "is incomplete",
			    orch_strerror(rc));
			tlist_drop(l, msg);
			return;
		}
		if (tlist_render(l, PIECE) != ORCH_OK) {
			tlist_drop(l, "out of memory: the list is incomplete");
			return;
		}
	}
}

static void
on_writable(struct orch_gw_stream *s, void *arg)
{
	(void)s;
	tlist_pump(arg);
}

static void
on_closed(struct orch_gw_stream *s, void *arg, const char *why)
{
	struct tlist *l = arg;

	orch_debug(TL_COMPONENT,
	    "the task list to %s ended after task seq "
	    "%llu: %s",
	    orch_gw_stream_peer(s), (unsigned long long)l->page.last, why);
	tlist_drop(l, NULL);
}

static const struct orch_gw_stream_ops tlist_ops = {
    .writable = on_writable,
    .closed = on_closed,
};

/* ---- serving ---- */

int
orch_task_list_serve(struct orch_task_list *tl, struct orch_gw_req *req,
    int status, char *err, size_t errlen)
{
	struct tlist *l = calloc(1, sizeof(*l));
	int rc;

	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return ORCH_ENOMEM;
	}
	l->tl = tl;
	l->status = status;
	orch_buf_init(&l->out, OUT_MAX);
	if ((rc = tlist_read(l)) != ORCH_OK) {
		orch_warn(TL_COMPONENT, "listing tasks: %s", orch_strerror(rc));
		snprintf(err, errlen, "cannot read tasks from the store");
		goto fail;
	}
	/* One page is all of it: one answer, which keeps the connection. */
	if (l->page.end) {
		if ((rc = tlist_render(l, SIZE_MAX)) != ORCH_OK) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		orch_gw_respond(
		    req, 200, "application/json", l->out.p, l->out.len, NULL);
		tlist_free(l);
		return ORCH_OK;
	}
	if (tl->n_lists >= ORCH_TASK_LIST_STREAMS_MAX) {
		snprintf(err, errlen,
		    "the manager streams %d task lists already: try again "
		    "later",
		    ORCH_TASK_LIST_STREAMS_MAX);
		rc = ORCH_EAGAIN;
		goto fail;
	}
	if (orch_gw_stream_start(req, 200, "application/json",
	        "Trailer: X-Orch-List-Error\r\n", &tlist_ops, l,
	        &l->s) != ORCH_OK) {
		/* Answered, or the client left. */
		tlist_free(l);
		return ORCH_OK;
	}
	l->next = tl->lists;
	if (tl->lists != NULL)
		tl->lists->prev = l;
	tl->lists = l;
	tl->n_lists++;
	atomic_fetch_add(&tl->streams, 1);
	atomic_fetch_add(&tl->streamed, 1);
	tlist_pump(l);
	return ORCH_OK;
fail:
	tlist_free(l);
	return rc;
}

/* ---- life ---- */

int
orch_task_list_new(struct orch_store_reader *r, struct orch_task_list **out)
{
	struct orch_task_list *tl = calloc(1, sizeof(*tl));

	*out = NULL;
	if (tl == NULL)
		return ORCH_ENOMEM;
	tl->reader = r;
	*out = tl;
	return ORCH_OK;
}

void
orch_task_list_stats(
    struct orch_task_list *tl, struct orch_task_list_stats *out)
{
	out->streams = atomic_load(&tl->streams);
	out->streamed = atomic_load(&tl->streamed);
	out->cut = atomic_load(&tl->cut);
	out->waits = atomic_load(&tl->waits);
	out->held_max = atomic_load(&tl->held_max);
}

void
orch_task_list_free(struct orch_task_list *tl)
{
	if (tl == NULL)
		return;
	while (tl->lists != NULL)
		tlist_drop(tl->lists, "the manager is shutting down");
	free(tl);
}
