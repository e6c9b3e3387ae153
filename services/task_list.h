/*
 * task_list.h: GET /tasks, the task list, read and sent page by page.
 *
 * The list is read from the store a page at a time (orch_store_task_page():
 * at most ORCH_TASK_LIST_PAGE tasks, or fewer when their records reach
 * ORCH_TASK_LIST_PAGE_BYTES), each page a short read of its own, and each
 * page is rendered only when the client has taken what came before it.
 * So the manager's memory for one list is a page of tasks, the bytes the
 * gateway holds unsent for the client (a quarter of its stream cap, and
 * a piece) and one rendered task, however many tasks there are.
 *
 * The answer is the JSON array of the tasks in submission order, the same
 * bytes whichever way it travels:
 *   - a list whose first page holds all of it is answered at once, as any
 *     answer (Content-Length; the connection stays open for the next
 *     request);
 *   - a longer one streams: 200 with "Transfer-Encoding: chunked" (over
 *     HTTP/1.0, delimited by the close), and the connection closes after
 *     it, as after any stream (gateway.h).
 * The list is not one snapshot: each task is in it at most once, as it
 * was when its page was read (store.h says what may move meanwhile).
 *
 * An error before the first byte is answered as a JSON error.  After it,
 * the stream ends without the array's closing bracket and with the
 * trailer field X-Orch-List-Error saying why (announced by "Trailer:" in
 * the head), so that a client tells a list cut short from a whole one;
 * over HTTP/1.0 the connection just closes.  A client that leaves ends its
 * list; one that takes no byte of it for the gateway's write timeout is
 * closed.  At most ORCH_TASK_LIST_STREAMS_MAX lists stream at once: 503
 * past that (a list of one page is not a stream and not counted).
 *
 * Everything runs on the gateway's loop thread, reading through one
 * reader (the API's), except orch_task_list_stats().
 */
#ifndef ORCH_TASK_LIST_H
#define ORCH_TASK_LIST_H

#include <stddef.h>
#include <stdint.h>

#include "gateway.h"
#include "store.h"

/* Tasks read at a time, and the most stored bytes of a page past its
 * first task. */
#define ORCH_TASK_LIST_PAGE 256
#define ORCH_TASK_LIST_PAGE_BYTES (1024 * 1024)
/* Lists streaming at once. */
#define ORCH_TASK_LIST_STREAMS_MAX 32

struct orch_task_list;

/* Creates the lists' state over reader r (borrowed: it must outlive the
 * module, and is used only on the loop thread).  Returns ORCH_OK or
 * ORCH_ENOMEM. */
int orch_task_list_new(
    struct orch_store_reader *r, struct orch_task_list **out /* OUT */);

/*
 * Answers req (GET /tasks) with the tasks of status (0: all of them), on
 * the loop thread, as above.  Returns ORCH_OK when req is answered or
 * streaming; otherwise req is left for the caller to answer with the
 * error returned and err, a message for the client: a read error of the
 * first page ("cannot read tasks from the store", logged with why),
 * ORCH_EAGAIN past ORCH_TASK_LIST_STREAMS_MAX, ORCH_ENOMEM.
 */
int orch_task_list_serve(struct orch_task_list *tl, struct orch_gw_req *req,
    int status, char *err, size_t errlen);

/* Counters, readable from any thread (tests, metrics). */
struct orch_task_list_stats {
	uint64_t streams;  /* streaming now */
	uint64_t streamed; /* lists that streamed, since the module was made */
	uint64_t cut;      /* of those, ended early by an error (trailer) */
	uint64_t waits;    /* times a list stopped for its client to take
	                    * the bytes it had (and went on when it did) */
	uint64_t held_max; /* the most decoded tasks one list held at once */
};
void orch_task_list_stats(
    struct orch_task_list *tl, struct orch_task_list_stats *out /* OUT */);

/* Ends every list still streaming (with the trailer: the manager is
 * shutting down) and frees the module, on the loop thread or once the
 * loop has returned, before the reader is freed.  NULL is a no-op. */
void orch_task_list_free(struct orch_task_list *tl);

#endif
