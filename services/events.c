/*
 * events.c: the event stream (see events.h).
 *
 * Two threads meet here.  The store's writer thread calls on_event() after
 * each commit: it publishes the event, updates the task counts, and, when
 * streams are open, queues a copy and posts one wake-up to the gateway's
 * loop.  Everything about streams runs on the loop thread: it renders each
 * queued event to its JSON line once, keeps the last lines in a ring, and
 * writes them to every stream that has caught up.
 *
 * The store is the truth and the ring only a cache: a stream that is
 * behind (it started with ?since=, or its client reads slowly) reads its
 * next events from the store, at the pace its client takes them.  So the
 * queue may drop what the loop has not taken (when it stalls) without a
 * stream missing anything: a stream knows the last index it sent and
 * compares it with the newest committed.
 */
#include "events.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "event_json.h"
#include "log.h"
#include "orch.pb-c.h"
#include "task.h"

#define EV_COMPONENT "events"
/* The ring of rendered lines: the newest events, for streams that are
 * caught up. */
#define RING_LINES 1024
#define RING_BYTES (4u * 1024 * 1024)
/* What the loop may have still to take before the queue gives up (the
 * streams then read from the store). */
#define QUEUE_MAX 8192
#define QUEUE_BYTES (16u * 1024 * 1024)
/* Events read from the store at a time by a stream that is behind. */
#define PAGE 64
#define ST_PENDING ORCH__TASK_STATUS__TASK_STATUS_PENDING
#define ST_SCHEDULED ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED

/* An event handed from the writer thread to the loop. */
struct queued {
	struct queued *next;
	uint64_t index;
	size_t len;
	uint8_t data[]; /* the serialized orch.Event */
};

/* A rendered JSON line. */
struct line {
	uint64_t index;
	char *text;
	size_t len;
};

/* One GET /events stream. */
struct sub {
	struct orch_events *ev;
	struct orch_gw_stream *s;
	uint64_t cursor; /* the last index written to it */
	bool live;       /* caught up: new events are pushed to it */
	struct sub *prev, *next;
};

struct orch_events {
	struct orch_store *store;
	struct orch_notify *notify;
	struct orch_nodes *nodes;
	struct orch_gw *gw;
	orch_events_placed_fn placed;
	void *placed_arg;

	/* Written by the writer thread. */
	_Atomic uint64_t newest;  /* the newest index committed */
	_Atomic uint64_t n_subs;  /* open streams: queue only when any */
	_Atomic uint64_t dropped; /* streams closed for lagging */

	/* mu guards the queue and the counts. */
	pthread_mutex_t mu;
	struct queued *q_head, *q_tail;
	size_t q_len, q_bytes;
	bool posted;
	struct orch_gw_work work;
	uint64_t counts[ORCH_STORE_STATUS_SLOTS];
	uint64_t counts_index; /* the counts are those after this event */
	bool seeded;

	/* The loop thread's. */
	struct orch_store_reader *reader;
	struct line ring[RING_LINES];
	size_t ring_first; /* slot of the oldest line */
	size_t ring_len;
	size_t ring_bytes;
	struct sub *subs;
	bool closed;
};

/* ---- the writer thread ---- */

/* The placement latency of a task.status event from Pending to
 * Scheduled: from its creation, or from the end of its backoff. */
static void
placed_observe(struct orch_events *ev, const struct orch_store_event *e)
{
	Orch__Event *m;
	int64_t from;

	if (ev->placed == NULL ||
	    (m = orch__event__unpack(NULL, e->len, e->data)) == NULL)
		return;
	if (m->task != NULL) {
		from = m->task->created_at_ms;
		if (m->task->has_not_before_ms && m->task->not_before_ms > from)
			from = m->task->not_before_ms;
		ev->placed(ev->placed_arg,
		    e->time_ms > from ? (double)(e->time_ms - from) / 1000.0
		                      : 0.0);
	}
	orch__event__free_unpacked(m, NULL);
}

/* Applies a task event to the counts.  Called with mu. */
static void
counts_apply(struct orch_events *ev, const struct orch_store_event *e)
{
	uint64_t *c = ev->counts;
	int s = e->status, p = e->prev_status;

	if (!ev->seeded || e->index <= ev->counts_index || s < 0 ||
	    s >= ORCH_STORE_STATUS_SLOTS || p < 0 ||
	    p >= ORCH_STORE_STATUS_SLOTS)
		return;
	if (strcmp(e->type, "task.created") == 0) {
		c[s]++;
	} else if (strcmp(e->type, "task.deleted") == 0) {
		if (c[s] > 0)
			c[s]--;
	} else if (strcmp(e->type, "task.status") == 0) {
		if (c[p] > 0)
			c[p]--;
		c[s]++;
	}
}

static void loop_take(struct orch_gw_work *w);

/* The store's event listener, on its writer thread. */
static void
on_event(void *arg, const struct orch_store_event *e)
{
	struct orch_events *ev = arg;
	struct queued *q = NULL;
	bool post = false;

	orch_notify_event(ev->notify,
	    e->kind == ORCH_STORE_TASK       ? "task"
	        : e->kind == ORCH_STORE_NODE ? "node"
	                                     : "service",
	    e->object_id, e->data, e->len);
	if (e->kind == ORCH_STORE_TASK && e->prev_status == ST_PENDING &&
	    e->status == ST_SCHEDULED)
		placed_observe(ev, e);
	/* Copied only for open streams; those that open meanwhile read it
	 * from the store. */
	if (atomic_load(&ev->n_subs) > 0 &&
	    (q = malloc(sizeof(*q) + e->len)) != NULL) {
		q->next = NULL;
		q->index = e->index;
		q->len = e->len;
		memcpy(q->data, e->data, e->len);
	}
	pthread_mutex_lock(&ev->mu);
	if (e->kind == ORCH_STORE_TASK)
		counts_apply(ev, e);
	if (q != NULL) {
		if (ev->q_len >= QUEUE_MAX || ev->q_bytes >= QUEUE_BYTES) {
			/* The loop is not keeping up: the streams will read
			 * from the store. */
			free(q);
			q = NULL;
		} else {
			if (ev->q_tail != NULL)
				ev->q_tail->next = q;
			else
				ev->q_head = q;
			ev->q_tail = q;
			ev->q_len++;
			ev->q_bytes += e->len;
		}
	}
	atomic_store(&ev->newest, e->index);
	if (atomic_load(&ev->n_subs) > 0 && !ev->posted && ev->gw != NULL) {
		ev->posted = true;
		post = true;
	}
	pthread_mutex_unlock(&ev->mu);
	/* The work is ours and posted at most once: posting cannot fail. */
	if (post)
		orch_gw_post(ev->gw, &ev->work);
}

/* A node turned Ready or Down, or one of its drivers turned: an event of
 * it, written by the store. */
static void
on_node_turn(void *arg, const struct orch_nodes_turn *t)
{
	struct orch_events *ev = arg;

	if (t->status == ORCH_NODES_TURN_DRIVER)
		orch_store_node_driver_event(
		    ev->store, t->id, t->unhealthy, t->n_unhealthy);
	else
		orch_store_node_event(ev->store, t->id, t->status);
}

/* ---- the ring (loop thread) ---- */

static void
ring_clear(struct orch_events *ev)
{
	for (size_t i = 0; i < ev->ring_len; i++)
		free(ev->ring[(ev->ring_first + i) % RING_LINES].text);
	ev->ring_first = ev->ring_len = ev->ring_bytes = 0;
}

static void
ring_drop_oldest(struct orch_events *ev)
{
	struct line *l = &ev->ring[ev->ring_first];

	ev->ring_bytes -= l->len;
	free(l->text);
	l->text = NULL;
	ev->ring_first = (ev->ring_first + 1) % RING_LINES;
	ev->ring_len--;
}

/* Appends the line of event index (taking text), keeping the ring one
 * run of consecutive indexes. */
static void
ring_push(struct orch_events *ev, uint64_t index, char *text, size_t len)
{
	struct line *l;

	if (ev->ring_len > 0 &&
	    ev->ring[(ev->ring_first + ev->ring_len - 1) % RING_LINES].index +
	            1 !=
	        index)
		ring_clear(ev);
	while (ev->ring_len > 0 &&
	    (ev->ring_len == RING_LINES || ev->ring_bytes + len > RING_BYTES))
		ring_drop_oldest(ev);
	l = &ev->ring[(ev->ring_first + ev->ring_len) % RING_LINES];
	l->index = index;
	l->text = text;
	l->len = len;
	ev->ring_len++;
	ev->ring_bytes += len;
}

static const struct line *
ring_get(const struct orch_events *ev, uint64_t index)
{
	uint64_t first;

	if (ev->ring_len == 0)
		return NULL;
	first = ev->ring[ev->ring_first].index;
	if (index < first || index - first >= ev->ring_len)
		return NULL;
	return &ev->ring[(ev->ring_first + (size_t)(index - first)) %
	    RING_LINES];
}

/* ---- streams (loop thread) ---- */

static void sub_drop(struct sub *sb);

/* What a stream reading from the store is handed, page by page. */
struct page_ctx {
	struct sub *sb;
	int rc;
};

static int
page_write(void *arg, uint64_t index, const uint8_t *data, size_t len)
{
	struct page_ctx *pc = arg;
	char *text;
	size_t n;
	int rc;

	/* Pruned while this stream lagged: its client is told, as when it
	 * asks for a since older than what is kept. */
	if (index > pc->sb->cursor + 1) {
		if ((rc = orch_event_missed_line(
		         pc->sb->cursor, index, &text, &n)) != ORCH_OK)
			return rc;
		rc = orch_gw_stream_write(pc->sb->s, text, n);
		free(text);
		if (rc != ORCH_OK)
			return rc;
	}
	if ((rc = orch_event_line(data, len, &text, &n)) != ORCH_OK) {
		orch_error(EV_COMPONENT,
		    "event %llu does not decode: %s; the stream skips it",
		    (unsigned long long)index, orch_strerror(rc));
		pc->sb->cursor = index;
		return rc == ORCH_EIO ? ORCH_OK : rc;
	}
	rc = orch_gw_stream_write(pc->sb->s, text, n);
	free(text);
	if (rc != ORCH_OK)
		return rc;
	pc->sb->cursor = index;
	/* A stream that is behind takes what its client reads. */
	if (!pc->sb->live && orch_gw_stream_full(pc->sb->s))
		return ORCH_EAGAIN;
	return ORCH_OK;
}

/*
 * Writes to sb what it has not had yet: from the ring when there, else
 * from the store.  A stream that is behind stops when its unsent bytes
 * pass the low-water mark (the gateway calls back when they fall); one
 * that was caught up is pushed the new events whatever its client does,
 * up to the cap.  Returns false when sb was dropped.
 */
static bool
sub_pump(struct sub *sb)
{
	struct orch_events *ev = sb->ev;
	uint64_t newest = atomic_load(&ev->newest);
	int rc = ORCH_OK;

	while (sb->cursor < newest) {
		const struct line *l;

		if (!sb->live && orch_gw_stream_full(sb->s))
			return true;
		if ((l = ring_get(ev, sb->cursor + 1)) != NULL) {
			if ((rc = orch_gw_stream_write(
			         sb->s, l->text, l->len)) != ORCH_OK)
				break;
			sb->cursor = l->index;
			continue;
		}
		{
			struct page_ctx pc = {.sb = sb};
			uint64_t before = sb->cursor;

			rc = orch_store_events_read(
			    ev->reader, sb->cursor, PAGE, page_write, &pc);
			if (rc == ORCH_EAGAIN)
				return true;
			if (rc != ORCH_OK)
				break;
			if (sb->cursor == before)
				break; /* committed, yet not readable: later */
		}
	}
	if (rc == ORCH_ETOOBIG) {
		atomic_fetch_add(&ev->dropped, 1);
		orch_info(EV_COMPONENT,
		    "stream to %s dropped after event %llu: its client does "
		    "not keep up; it may reconnect with ?since=%llu",
		    orch_gw_stream_peer(sb->s), (unsigned long long)sb->cursor,
		    (unsigned long long)sb->cursor);
		sub_drop(sb);
		return false;
	}
	if (rc != ORCH_OK) {
		if (rc != ORCH_ECLOSED)
			orch_warn(EV_COMPONENT,
			    "stream to %s ended: reading events: %s",
			    orch_gw_stream_peer(sb->s), orch_strerror(rc));
		sub_drop(sb);
		return false;
	}
	sb->live = sb->cursor >= newest;
	return true;
}

/* Ends sb's stream and forgets it. */
static void
sub_drop(struct sub *sb)
{
	struct orch_events *ev = sb->ev;

	if (sb->prev != NULL)
		sb->prev->next = sb->next;
	else
		ev->subs = sb->next;
	if (sb->next != NULL)
		sb->next->prev = sb->prev;
	orch_gw_stream_end(sb->s);
	free(sb);
	atomic_fetch_sub(&ev->n_subs, 1);
}

static void
sub_writable(struct orch_gw_stream *s, void *arg)
{
	(void)s;
	sub_pump(arg);
}

static void
sub_closed(struct orch_gw_stream *s, void *arg, const char *why)
{
	struct sub *sb = arg;

	orch_debug(EV_COMPONENT, "stream to %s closed after event %llu: %s",
	    orch_gw_stream_peer(s), (unsigned long long)sb->cursor, why);
	sub_drop(sb);
}

static const struct orch_gw_stream_ops sub_ops = {
    .writable = sub_writable,
    .closed = sub_closed,
};

/* The posted work: renders what the writer queued and feeds the
 * streams. */
static void
loop_take(struct orch_gw_work *w)
{
	struct orch_events *ev = (struct orch_events *)((char *)w -
	    offsetof(struct orch_events, work));
	struct queued *q, *next;
	struct sub *sb, *sb_next;

	pthread_mutex_lock(&ev->mu);
	q = ev->q_head;
	ev->q_head = ev->q_tail = NULL;
	ev->q_len = ev->q_bytes = 0;
	ev->posted = false;
	pthread_mutex_unlock(&ev->mu);
	for (; q != NULL; q = next) {
		char *text;
		size_t n;

		next = q->next;
		if (!ev->closed && ev->subs != NULL &&
		    orch_event_line(q->data, q->len, &text, &n) == ORCH_OK)
			ring_push(ev, q->index, text, n);
		free(q);
	}
	if (ev->closed)
		return;
	for (sb = ev->subs; sb != NULL; sb = sb_next) {
		sb_next = sb->next;
		sub_pump(sb);
	}
}

/* Parses the since of a query: returns 1 with *since, 0 when absent, -1
 * when malformed. */
static int
since_parse(struct orch_http_slice q, uint64_t *since)
{
	const char *p = q.p, *end = q.p + q.len;

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pe = amp != NULL ? amp : end;

		if (pe - p >= 6 && memcmp(p, "since=", 6) == 0) {
			uint64_t v = 0;

			p += 6;
			if (p == pe || pe - p > 19)
				return -1;
			for (; p < pe; p++) {
				if (*p < '0' || *p > '9')
					return -1;
				v = v * 10 + (uint64_t)(*p - '0');
			}
			*since = v;
			return 1;
		}
		p = pe + 1;
	}
	return 0;
}

static void
respond_error(struct orch_gw_req *req, int status, const char *msg)
{
	json_t *j = json_pack("{s:s}", "error", msg);
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	char body[1024];
	int n;

	n = snprintf(body, sizeof(body), "%s\n",
	    s != NULL ? s : "{\"error\":\"out of memory\"}");
	orch_gw_respond(req, status, "application/json", body,
	    n > 0 && (size_t)n < sizeof(body) ? (size_t)n : 0, NULL);
	free(s);
	json_decref(j);
}

void
orch_events_serve(struct orch_events *ev, struct orch_gw_req *req,
    struct orch_http_slice query)
{
	uint64_t since = 0, oldest, newest;
	struct sub *sb;
	char msg[256], hdr[64];
	char *missed = NULL;
	size_t mlen = 0;
	int q, rc;

	if (ev->closed || ev->reader == NULL) {
		respond_error(req, 503, "the event stream is shutting down");
		return;
	}
	if ((q = since_parse(query, &since)) < 0) {
		respond_error(req, 400,
		    "query parameter \"since\" must be an event index: a "
		    "whole number from 0");
		return;
	}
	if ((rc = orch_store_events_bounds(ev->reader, &oldest, &newest)) !=
	    ORCH_OK) {
		respond_error(
		    req, 503, "cannot read the events from the store");
		return;
	}
	/* The listener may already know of a newer one. */
	if (atomic_load(&ev->newest) > newest)
		newest = atomic_load(&ev->newest);
	if (q == 0) {
		since = newest;
	} else if (since > newest) {
		snprintf(msg, sizeof(msg),
		    "since %llu is past the newest event (%llu): is this the "
		    "manager whose events you read?",
		    (unsigned long long)since, (unsigned long long)newest);
		respond_error(req, 400, msg);
		return;
	} else if (oldest > 0 && since + 1 < oldest) {
		if (orch_event_missed_line(since, oldest, &missed, &mlen) !=
		    ORCH_OK) {
			respond_error(req, 503, "out of memory");
			return;
		}
		since = oldest - 1;
	}
	if ((sb = calloc(1, sizeof(*sb))) == NULL) {
		free(missed);
		respond_error(req, 503, "out of memory");
		return;
	}
	sb->ev = ev;
	sb->cursor = since;
	snprintf(hdr, sizeof(hdr), "X-Orch-Events-Newest: %llu\r\n",
	    (unsigned long long)newest);
	if (orch_gw_stream_start(req, 200, "application/x-ndjson", hdr,
	        &sub_ops, sb, &sb->s) != ORCH_OK) {
		free(missed);
		free(sb);
		return;
	}
	sb->next = ev->subs;
	if (ev->subs != NULL)
		ev->subs->prev = sb;
	ev->subs = sb;
	atomic_fetch_add(&ev->n_subs, 1);
	if (missed != NULL) {
		rc = orch_gw_stream_write(sb->s, missed, mlen);
		free(missed);
		if (rc != ORCH_OK) {
			sub_drop(sb);
			return;
		}
	}
	sub_pump(sb);
}

/* ---- life ---- */

int
orch_events_new(
    struct orch_store *st, struct orch_notify *notify, struct orch_events **out)
{
	struct orch_events *ev = calloc(1, sizeof(*ev));
	uint64_t counts[ORCH_STORE_STATUS_SLOTS], index;
	int rc;

	*out = NULL;
	if (ev == NULL)
		return ORCH_ENOMEM;
	if (pthread_mutex_init(&ev->mu, NULL) != 0) {
		free(ev);
		return ORCH_ENOMEM;
	}
	ev->store = st;
	ev->notify = notify;
	ev->work.fn = loop_take;
	if ((rc = orch_store_reader_new(st, &ev->reader)) != ORCH_OK)
		goto fail;
	/* Listening first, then counting in one read: an event the count
	 * already includes is one whose index it saw (events.h). */
	if ((rc = orch_store_events_listen(st, on_event, ev)) != ORCH_OK)
		goto fail;
	pthread_mutex_lock(&ev->mu);
	rc = orch_store_task_counts(ev->reader, counts, &index);
	if (rc == ORCH_OK) {
		memcpy(ev->counts, counts, sizeof(counts));
		ev->counts_index = index;
		ev->seeded = true;
		if (atomic_load(&ev->newest) < index)
			atomic_store(&ev->newest, index);
	}
	pthread_mutex_unlock(&ev->mu);
	if (rc != ORCH_OK) {
		orch_store_events_unlisten(st, on_event, ev);
		goto fail;
	}
	*out = ev;
	return ORCH_OK;
fail:
	orch_store_reader_free(ev->reader);
	pthread_mutex_destroy(&ev->mu);
	free(ev);
	return rc;
}

void
orch_events_attach(struct orch_events *ev, struct orch_gw *gw)
{
	pthread_mutex_lock(&ev->mu);
	ev->gw = gw;
	pthread_mutex_unlock(&ev->mu);
}

void
orch_events_watch_nodes(struct orch_events *ev, struct orch_nodes *ns)
{
	ev->nodes = ns;
	orch_nodes_on_transition(ns, on_node_turn, ev);
}

void
orch_events_on_placed(
    struct orch_events *ev, orch_events_placed_fn fn, void *arg)
{
	ev->placed = fn;
	ev->placed_arg = arg;
}

void
orch_events_task_counts(
    struct orch_events *ev, uint64_t counts[ORCH_STORE_STATUS_SLOTS])
{
	pthread_mutex_lock(&ev->mu);
	memcpy(counts, ev->counts, sizeof(ev->counts));
	pthread_mutex_unlock(&ev->mu);
}

void
orch_events_stats(struct orch_events *ev, struct orch_events_stats *out)
{
	out->newest = atomic_load(&ev->newest);
	out->streams = atomic_load(&ev->n_subs);
	out->dropped = atomic_load(&ev->dropped);
}

void
orch_events_close(struct orch_events *ev)
{
	if (ev == NULL || ev->closed)
		return;
	ev->closed = true;
	if (ev->nodes != NULL)
		orch_nodes_on_transition(ev->nodes, NULL, NULL);
	while (ev->subs != NULL)
		sub_drop(ev->subs);
	ring_clear(ev);
	orch_store_reader_free(ev->reader);
	ev->reader = NULL;
}

void
orch_events_free(struct orch_events *ev)
{
	struct queued *q, *next;

	if (ev == NULL)
		return;
	orch_events_close(ev);
	for (q = ev->q_head; q != NULL; q = next) {
		next = q->next;
		free(q);
	}
	pthread_mutex_destroy(&ev->mu);
	free(ev);
}
