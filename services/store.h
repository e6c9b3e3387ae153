/*
 * store.h: the manager's durable state, in one SQLite database.
 *
 * The database lives at DIR/orch.db in WAL mode.  Its schema is versioned
 * with PRAGMA user_version and migrated forward on open.  Each task is one
 * row: the serialized Orch__Task (the record of truth) plus columns derived
 * from it in the same statement for lookups and sums.  Each node is one row
 * too: the serialized Orch__Node as registered, with its id, name and
 * registration time as columns.  Each service too: the serialized
 * Orch__Service (its template and desired replicas), with its id, name
 * and creation time as columns; its tasks carry its id in a column.
 *
 * Writes are group-committed: a single writer thread takes every write
 * queued since its last commit, runs each in its own SAVEPOINT inside one
 * transaction, commits once (one fsync with synchronous=FULL), and only then
 * calls each write's completion.  A completion with rc == ORCH_OK therefore
 * means the write is durable; a write that fails is rolled back alone and
 * its completion gets the error; a failed COMMIT fails every write in the
 * batch.  Nothing is acknowledged that is not on disk, and neither the
 * commit nor the event listeners hear of a write that was rolled back.
 *
 * A disk that refuses writes (full, read-only, failing) fails them with
 * ORCH_ENOSPC and a message that says which, while reads go on; the
 * writer keeps running and the store takes writes again by itself when
 * the disk does (orch_store_health()).
 *
 * Reads go through readers: read-only connections, each used by one thread
 * at a time, that see the last committed state.
 *
 * Events: every write that changes a task, node or service also appends
 * an event to the events table in the same savepoint (so an event exists
 * exactly when its change was committed): a serialized orch.Event whose
 * index is the row's, strictly increasing and never reused.  The writer
 * keeps the last events_keep of them, pruning older ones in the same
 * transaction.  A write that changes nothing (a status report repeated,
 * a drain set twice) appends no event.  Event listeners hear of each
 * event after its commit.
 *
 * Idempotency keys: a task insertion or a service creation may carry a
 * key (a client's retry token, the API's Idempotency-Key).  The writer
 * looks the key up and records it with the object in the same savepoint,
 * so that of any number of writes with one key, queued at once or across
 * restarts, exactly one creates: the others are answered the object as
 * it was created (a replay), or refused when their request differs.
 * Keys are kept for opts.idem_ttl_ms (24 hours by default) and pruned by
 * the writer after its batches, at most once per TTL or minute.
 */
#ifndef ORCH_STORE_H
#define ORCH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "idem.h"
#include "node.h"
#include "service.h"
#include "task.h"

struct orch_store;
struct orch_store_reader;

struct orch_store_opts {
	/* true: synchronous=FULL, a commit survives power loss (default).
	 * false: synchronous=NORMAL, a commit survives a crash of the manager
	 * but the last commits may be lost on power loss or an OS crash. */
	bool sync_full;
	/* Most writes in one transaction; 0 means the default (4096). */
	size_t max_batch;
	/* How long the writer may wait for more writes when the last batch
	 * had several (PostgreSQL's commit_delay), in microseconds; 0 never
	 * waits.  Default 500. */
	unsigned group_wait_us;
	/* Events kept: older ones are pruned as new ones are written; 0
	 * means the default, ORCH_STORE_EVENTS_KEEP. */
	uint64_t events_keep;
	/* Called on the writer thread after each commit with the time from
	 * BEGIN to the end of COMMIT and the writes it carried.  May be
	 * NULL. */
	void (*on_commit)(void *arg, int64_t ns, size_t writes);
	void *on_commit_arg;
	/* How long an idempotency key is kept, in ms; 0 means the default,
	 * ORCH_IDEM_TTL_MS_DEFAULT. */
	int64_t idem_ttl_ms;
};

/* How long an idempotency key (idem.h) is kept by default. */
#define ORCH_IDEM_TTL_MS_DEFAULT (24LL * 60 * 60 * 1000)

/*
 * An idempotency key given with a write, and what became of it.  The
 * store copies key when the write is queued; the struct itself must stay
 * valid until the completion has run, which may read the results.
 */
struct orch_store_idem {
	const char *key;
	/* OUT: the key was known with the same request: the completion
	 * gets the object as the first write created it, and nothing was
	 * written. */
	bool replayed;
	/* OUT: the key was known with a different request: the write
	 * completes with ORCH_ECONFLICT and err says so. */
	bool mismatch;
};

#define ORCH_STORE_EVENTS_KEEP 100000

/* Fills opts with the defaults. */
void orch_store_opts_default(struct orch_store_opts *opts /* OUT */);

/*
 * Opens (creating when missing) the store in directory dir, which must
 * exist, migrates its schema and starts the writer thread.  opts may be
 * NULL for the defaults.  Runs PRAGMA quick_check, which reads every
 * page once: a corrupt database is refused at start rather than found by
 * a request later.
 * Returns ORCH_OK; ORCH_ENOMEM; ORCH_EIO with a logged reason when the
 * database cannot be opened, is corrupt, or is newer than this program
 * understands.
 */
int orch_store_open(const char *dir, const struct orch_store_opts *opts,
    struct orch_store **out /* OUT */);

/* Completes every queued write, stops the writer and closes the database.
 * Writes queued once closing has begun (from a completion, say) complete
 * at once with ORCH_EUNAVAIL.  All readers must have been freed.  NULL is
 * a no-op. */
void orch_store_close(struct orch_store *st);

/* Counters since open, for metrics and tests. */
struct orch_store_stats {
	uint64_t writes;  /* writes the writer ran, durable or failed */
	uint64_t failed;  /* of which completed with an error */
	uint64_t refused; /* of those, refused by a disk that took no write
	                   * (full, read-only, failing) */
	uint64_t commits; /* transactions committed (group commits) */
};

/* What a commit listener is told changed. */
enum orch_store_kind {
	ORCH_STORE_TASK = 1,    /* id is a task's: inserted, modified or
	                         * deleted with its service */
	ORCH_STORE_NODE = 2,    /* id is a node's: it (re)registered, or its
	                         * drain changed */
	ORCH_STORE_SERVICE = 3, /* id is a service's */
};

/*
 * Called on the writer thread after each commit, once per object the
 * batch wrote (a task inserted or modified, a node registered), before any
 * of the batch's completions.  kind is an enum orch_store_kind.  For a
 * task, obj is the const orch_task * as committed, valid only during the
 * call, or NULL when the task was deleted (with its service); obj is NULL
 * for other kinds.  The same task written twice in a batch is reported
 * twice, in order.  It must be quick and must not call into the store.
 */
typedef void (*orch_store_commit_fn)(
    void *arg, int kind, const char *id, const void *obj);

/* Registers a commit listener (at most 8 listeners, of commits and of
 * events together).  Listeners run with the store's lock held.  Returns
 * ORCH_OK or ORCH_ETOOBIG. */
int orch_store_listen(
    struct orch_store *st, orch_store_commit_fn fn, void *arg);

/* Removes a listener; once this returns it is not running and will not
 * run again. */
void orch_store_unlisten(
    struct orch_store *st, orch_store_commit_fn fn, void *arg);

/* Fills out with a consistent snapshot of the counters. */
void orch_store_stats(
    struct orch_store *st, struct orch_store_stats *out /* OUT */);

/* Whether the disk takes writes, as the last transaction found. */
struct orch_store_health {
	bool writable;
	/* When not writable: since when (orch_now_ms()), how many writes
	 * were refused since, and why, as refused writes are told (
	 * "the manager's disk is full: ...; writes are refused until space
	 * returns; reads still work"). */
	int64_t since_ms;
	uint64_t refused;
	char why[512];
};

/*
 * Fills out with whether writes are refused.  A full disk, a read-only
 * file system or a failing write refuses every write alike (ORCH_ENOSPC,
 * with why); the writer then tries a write of its own every second, so
 * that writable turns true again by itself once the disk takes writes,
 * with or without clients writing.
 */
void orch_store_health(
    struct orch_store *st, struct orch_store_health *out /* OUT */);

/* ---- events ---- */

/* One committed event, as event listeners see it. */
struct orch_store_event {
	uint64_t index;
	int64_t time_ms;
	int kind;              /* enum orch_store_kind */
	const char *type;      /* "task.created", ... (events.h) */
	const char *object_id; /* the task's, node's or service's id */
	int status;            /* task events: the task's status after (for
	                        * task.deleted: as it was); else 0 */
	int prev_status;       /* task.status: the status before; else 0 */
	const uint8_t *data;   /* the serialized orch.Event */
	size_t len;
};

/* Called on the writer thread after each commit for each event of the
 * batch, in index order, after the commit listeners of its write and
 * before any completion.  Only committed events: those of a write that
 * failed, or of a batch the disk refused, are never heard of, and their
 * indexes are given again.  ev is valid only during the call.  Same rules
 * as orch_store_commit_fn. */
typedef void (*orch_store_event_fn)(
    void *arg, const struct orch_store_event *ev);

/* Registers or removes an event listener, as orch_store_listen() and
 * orch_store_unlisten(). */
int orch_store_events_listen(
    struct orch_store *st, orch_store_event_fn fn, void *arg);
void orch_store_events_unlisten(
    struct orch_store *st, orch_store_event_fn fn, void *arg);

/*
 * Queues an event alone, for a change that lives in memory: node id
 * turned Ready (status ORCH__NODE_STATUS__NODE_STATUS_READY, type
 * "node.ready") or Down ("node.down").  The event carries the node's
 * stored record with that status.  Never blocks; a failure (an unknown
 * node, the store closing) is logged at debug level.
 */
void orch_store_node_event(struct orch_store *st, const char *id, int status);

/*
 * Queues an event alone of node id's drivers: one turned unhealthy or
 * healthy again, in memory (type "node.driver").  sick[n_sick] are the
 * node's unhealthy drivers now (copied).  The event carries the node's
 * stored record with driver_health filled from them, one entry per
 * driver it registered (orch_node_health_fill()).  Otherwise as
 * orch_store_node_event().
 */
void orch_store_node_driver_event(struct orch_store *st, const char *id,
    const struct orch_driver_health *sick, size_t n_sick);

/* ---- reads ---- */

/*
 * Opens a read-only connection to the store for one thread at a time.
 * Errors on reads are logged with their reason and returned as ORCH_EIO
 * (corrupt or unreadable), ORCH_EAGAIN (locked) or ORCH_ENOMEM.
 * Returns ORCH_OK, ORCH_ENOMEM, ORCH_EUNAVAIL (the store is closing) or
 * ORCH_EIO.
 */
int orch_store_reader_new(
    struct orch_store *st, struct orch_store_reader **out /* OUT */);
/* NULL is a no-op. */
void orch_store_reader_free(struct orch_store_reader *r);

/* Returns ORCH_OK when the database answers a trivial query. */
int orch_store_ping(struct orch_store_reader *r);

/* The indexes of the oldest and the newest event kept (both 0 when none
 * is).  Returns ORCH_OK or a read error. */
int orch_store_events_bounds(struct orch_store_reader *r,
    uint64_t *oldest /* OUT */, uint64_t *newest /* OUT */);

/*
 * Calls fn with each kept event whose index is greater than after, in
 * index order, at most limit of them: data is the serialized orch.Event,
 * valid during the call.  The first code other than ORCH_OK fn returns
 * stops the read and is returned.  Returns ORCH_OK, fn's code or a read
 * error.
 */
int orch_store_events_read(struct orch_store_reader *r, uint64_t after,
    size_t limit,
    int (*fn)(void *arg, uint64_t index, const uint8_t *data, size_t len),
    void *arg);

/* How many tasks hold each status (counts[s] for status s, 0 to 7), and
 * the newest event index, read in one transaction: the counts are those
 * after that event.  Returns ORCH_OK or a read error. */
#define ORCH_STORE_STATUS_SLOTS 8
int orch_store_task_counts(struct orch_store_reader *r,
    uint64_t counts[ORCH_STORE_STATUS_SLOTS] /* OUT */,
    uint64_t *index /* OUT */);

/* How many replicas of each service are Running (stop requested or not).
 * On ORCH_OK *out is a new array of *n entries (services with none are
 * left out), which the caller frees with free(). */
struct orch_service_running {
	char service_id[ORCH_ID_LEN];
	uint64_t running;
};
int orch_store_service_running(struct orch_store_reader *r,
    struct orch_service_running **out /* OUT */, size_t *n /* OUT */);

/* Looks up one task by id.  On ORCH_OK *out is a new task the caller
 * frees with orch_task_free().  ORCH_ENOENT when there is none. */
int orch_store_task_get(
    struct orch_store_reader *r, const char *id, orch_task **out /* OUT */);

/*
 * Lists tasks in submission order, all of them when status is 0, else
 * those with that status.  On ORCH_OK *out is a new array of *n new tasks
 * (NULL when *n is 0); free it with orch_store_task_list_free().
 */
int orch_store_task_list(struct orch_store_reader *r, int status,
    orch_task ***out /* OUT */, size_t *n /* OUT */);
void orch_store_task_list_free(orch_task **tasks, size_t n);

/* One page of the task list (orch_store_task_page()). */
struct orch_store_task_page {
	orch_task **tasks; /* n tasks in submission order, the caller's:
	                    * free with orch_store_task_list_free() */
	size_t n;
	uint64_t last; /* the cursor of the next page: the seq of the last
	                * task here (the after given when n is 0) */
	bool end;      /* no task follows (the read ran out of rows before
	                * either limit); false says only that one may */
};

/*
 * The task list of orch_store_task_list(), a page at a time, for a reader
 * that walks it in many short reads (GET /tasks, whose client may take
 * minutes): the tasks after cursor after (0: from the first), all of them
 * or those of status (when not 0), in submission order (seq), at most
 * max_tasks (at least 1) of them, and no more once their stored records
 * reach max_bytes (the first task is always taken, whatever its size), so
 * that a page of large tasks stays small.  The next page starts after
 * page->last.
 *
 * Each call is one read transaction of its own, ended before it returns:
 * nothing is held open between pages, so a slow walk never holds back
 * the WAL's checkpoints.  The walk is not one snapshot: each task is
 * seen at most once (the cursor only moves forward), as it was when its
 * page was read; a task submitted during the walk appears at its end,
 * one deleted meanwhile (with its service) is missing if its page comes
 * after, and with a status one whose status changes may be in or out.
 *
 * Returns ORCH_OK with *page (OUT) filled; ORCH_EINVAL for a max_tasks of
 * 0; a read error (ORCH_EIO for a record that does not decode), with
 * *page empty.
 */
int orch_store_task_page(struct orch_store_reader *r, int status,
    uint64_t after, size_t max_tasks, size_t max_bytes,
    struct orch_store_task_page *page /* OUT */);

/*
 * Lists the open tasks (orch_task_open(): every task not in a final
 * status, plus the ended ones whose restart or slot the reconciler has
 * yet to decide), in submission order.  Same ownership as
 * orch_store_task_list().
 */
int orch_store_task_list_open(struct orch_store_reader *r,
    orch_task ***out /* OUT */, size_t *n /* OUT */);

/*
 * The open tasks of orch_store_task_list_open(), one at a time: fn is
 * called with each, in submission order, and owns it; the first code
 * other than ORCH_OK it returns stops the scan and is returned.  Memory
 * stays that of one task however many there are.  Returns ORCH_OK, fn's
 * error, or the read's.
 */
int orch_store_task_scan_open(
    struct orch_store_reader *r, int (*fn)(void *arg, orch_task *t), void *arg);

/* Lists every task of the service with this id, in submission order.
 * Same ownership as orch_store_task_list(). */
int orch_store_task_list_service(struct orch_store_reader *r,
    const char *service_id, orch_task ***out /* OUT */, size_t *n /* OUT */);

/*
 * Lists the tasks placed on node node_id that have not reached a final
 * status (Scheduled or Running, stop requested or not), in submission
 * order: what the node should be running.  Same ownership as
 * orch_store_task_list().
 */
int orch_store_task_list_node(struct orch_store_reader *r, const char *node_id,
    orch_task ***out /* OUT */, size_t *n /* OUT */);

/*
 * The same tasks as orch_store_task_list_node(), each handed to fn as the
 * stored bytes: a serialized orch.Task, valid during the call only, that
 * the store wrote itself (a heartbeat's answer carries them as they are,
 * without decoding and packing them again).  A non-ORCH_OK return from fn
 * stops the walk and is returned.  Returns ORCH_OK or the read's error.
 */
int orch_store_task_blobs_node(struct orch_store_reader *r, const char *node_id,
    int (*fn)(void *arg, const uint8_t *b, size_t n), void *arg);

/*
 * For each of ids[0..n), in one read transaction: fn(arg, i, b, len) with
 * its stored bytes (as orch_store_task_blobs_node() gives them) when the
 * task is on node_id's list, or with b NULL and len 0 when it is not
 * (ended, moved, or gone).  A non-ORCH_OK return from fn stops the walk
 * and is returned.  Returns ORCH_OK or the read's error.
 */
int orch_store_task_blobs_assigned(struct orch_store_reader *r,
    const char *node_id, char (*ids)[ORCH_ID_LEN], size_t n,
    int (*fn)(void *arg, size_t i, const uint8_t *b, size_t len), void *arg);

/* Looks up one node by id, or else by name.  On ORCH_OK *out is a new node
 * the caller frees with orch_node_free().  ORCH_ENOENT when there is none.
 * Status, heartbeat and allocation are not stored and left unset. */
int orch_store_node_get(
    struct orch_store_reader *r, const char *key, orch_node **out /* OUT */);

/* Lists every node, by name.  On ORCH_OK *out is a new array of *n new
 * nodes (NULL when *n is 0); free it with orch_store_node_list_free(). */
int orch_store_node_list(struct orch_store_reader *r,
    orch_node ***out /* OUT */, size_t *n /* OUT */);
void orch_store_node_list_free(orch_node **nodes, size_t n);

/* Looks up one service by id, or else by name.  On ORCH_OK *out is a new
 * service the caller frees with orch_service_free(); its live fields
 * (running, tasks) are not stored and left unset.  ORCH_ENOENT when there
 * is none. */
int orch_store_service_get(
    struct orch_store_reader *r, const char *key, orch_service **out /* OUT */);

/* Lists every service, by name.  On ORCH_OK *out is a new array of *n new
 * services (NULL when *n is 0); free it with
 * orch_store_service_list_free(). */
int orch_store_service_list(struct orch_store_reader *r,
    orch_service ***out /* OUT */, size_t *n /* OUT */);
void orch_store_service_list_free(orch_service **svcs, size_t n);

/* What the tasks placed on one node and not ended (Scheduled or Running)
 * hold of it. */
struct orch_node_usage {
	char node_id[ORCH_ID_LEN];
	double cpu;
	int64_t memory_mb;
	uint32_t tasks;
};

/* Sums the resources held on each node that holds any, in one query.  On
 * ORCH_OK *out is a new array of *n entries (NULL when *n is 0) the caller
 * frees with free(). */
int orch_store_node_usage(struct orch_store_reader *r,
    struct orch_node_usage **out /* OUT */, size_t *n /* OUT */);

/* ---- writes ---- */

/*
 * The completion of a write, called once on the writer thread after the
 * commit (or from the enqueueing function itself when enqueueing fails).
 * rc is ORCH_OK when the write is durable.  task, when not NULL, is the
 * task as stored and belongs to the completion, which must free it.
 * err is a message for a person when rc != ORCH_OK (never NULL then).
 * The completion must not block for long: it holds up the next commit.
 */
typedef void (*orch_store_done_fn)(
    void *arg, int rc, orch_task *task, const char *err);

/*
 * Queues the insertion of task, which the store takes in every case.
 * Completes with ORCH_EEXIST when its id exists, ORCH_ENOSPC when the disk
 * is full or read-only, ORCH_EINVAL when it has no id.  A replica (a task
 * with a service_id) is inserted only while its service exists and wants
 * its slot (1 to the service's replicas), else ORCH_ECONFLICT: a replica
 * never outlives a service deleted or scaled down meanwhile.  On ORCH_OK
 * the completion receives the very task that was inserted.
 */
void orch_store_task_insert(
    struct orch_store *st, orch_task *task, orch_store_done_fn done, void *arg);

/*
 * A change to one stored task: called inside the write transaction with
 * the current task, which it may modify.  Returns ORCH_OK to store the
 * result, anything else to leave the task as it was (writing a message
 * into err).
 */
typedef int (*orch_store_modify_fn)(
    orch_task *t, void *marg, char *err, size_t errlen);

/*
 * Queues a read-modify-write of the task with this id.  marg must stay
 * valid until done is called.  Completes with ORCH_ENOENT when there is no
 * such task, ORCH_EIO when its stored record does not decode, ORCH_EINVAL
 * when modify changed the id, or with modify's code.
 */
void orch_store_task_modify(struct orch_store *st, const char *id,
    orch_store_modify_fn modify, void *marg, orch_store_done_fn done,
    void *arg);

/*
 * Queues a restart or a move: in one transaction, modify (which may
 * refuse) runs on the task old_id and new_task is inserted as by
 * orch_store_task_insert() (the store takes it in every case).  Either
 * both are written or neither.  modify is expected to set the old task's
 * replaced_by.  old_id NULL inserts alone.  On ORCH_OK the completion
 * receives the new task as stored.
 */
void orch_store_task_replace(struct orch_store *st, const char *old_id,
    orch_store_modify_fn modify, void *marg, orch_task *new_task,
    orch_store_done_fn done, void *arg);

/*
 * Blocking forms of the two writes for callers on their own threads
 * (tests, tools; a server answers from the completion instead).  On ORCH_OK
 * *out (when out is not NULL) is the stored task, owned by the caller; on error
 * err holds the reason. Calling them from a completion (the writer thread)
 * would wait for itself: they refuse with ORCH_EINTERNAL instead.
 */
int orch_store_task_insert_sync(struct orch_store *st, orch_task *task,
    orch_task **out /* OUT */, char *err, size_t errlen);

/*
 * orch_store_task_insert() and its blocking form with an idempotency key
 * (idem may be NULL, or its key NULL: no key).  Two requests are the same
 * when their specs are, once defaults are filled (orch_task_new()) and
 * env is taken as a set.  Completes with ORCH_EINVAL for a key that
 * orch_idem_key_check() refuses.
 */
void orch_store_task_insert_idem(struct orch_store *st, orch_task *task,
    struct orch_store_idem *idem, orch_store_done_fn done, void *arg);
int orch_store_task_insert_idem_sync(struct orch_store *st, orch_task *task,
    struct orch_store_idem *idem, orch_task **out /* OUT */, char *err,
    size_t errlen);
int orch_store_task_modify_sync(struct orch_store *st, const char *id,
    orch_store_modify_fn modify, void *marg, orch_task **out /* OUT */,
    char *err, size_t errlen);

/*
 * The completion of a node registration, as orch_store_done_fn: node, when
 * not NULL, is the node as stored and belongs to the completion.
 */
typedef void (*orch_store_node_done_fn)(
    void *arg, int rc, orch_node *node, const char *err);

/*
 * Queues the registration of a node: an upsert by reg->name.  A new name
 * gets a new id and registered_at = now; a known name keeps its id and
 * registered_at and takes reg's address, labels, capacity, drivers and
 * version, so that registering twice is the same node.  reg must stay
 * valid until done is called and should have passed
 * orch_node_registration_validate().  Completes with ORCH_EINVAL when reg
 * has no name.
 */
void orch_store_node_register(struct orch_store *st,
    const Orch__NodeRegistration *reg, orch_store_node_done_fn done, void *arg);

/* The blocking form, as orch_store_task_insert_sync(): on ORCH_OK *out
 * (when out is not NULL) is the stored node, owned by the caller. */
int orch_store_node_register_sync(struct orch_store *st,
    const Orch__NodeRegistration *reg, orch_node **out /* OUT */, char *err,
    size_t errlen);

/*
 * Queues setting (drain true) or clearing the drain of the node with id
 * or name key: a drained node gets no new task and its replicas move.
 * Registering again keeps it.  Completes with ORCH_ENOENT when there is
 * no such node; the node as stored goes to the completion.
 */
void orch_store_node_drain(struct orch_store *st, const char *key, bool drain,
    orch_store_node_done_fn done, void *arg);
int orch_store_node_drain_sync(struct orch_store *st, const char *key,
    bool drain, orch_node **out /* OUT */, char *err, size_t errlen);

/* ---- services ---- */

/*
 * The completion of a service write, as orch_store_done_fn: svc, when not
 * NULL, is the service as stored (for a deletion: as it was, with tasks
 * holding the tasks deleted with it) and belongs to the completion.
 */
typedef void (*orch_store_service_done_fn)(
    void *arg, int rc, orch_service *svc, const char *err);

/* A change to one stored service, as orch_store_modify_fn. */
typedef int (*orch_store_service_modify_fn)(
    orch_service *svc, void *marg, char *err, size_t errlen);

/* Queues the creation of svc, which the store takes in every case.
 * Completes with ORCH_EEXIST when a service has its name (or id). */
void orch_store_service_create(struct orch_store *st, orch_service *svc,
    orch_store_service_done_fn done, void *arg);

/* Queues a read-modify-write of the service with id or name key; modify
 * must not change its id or name (ORCH_EINVAL).  ORCH_ENOENT when there
 * is no such service.  marg must stay valid until done is called. */
void orch_store_service_modify(struct orch_store *st, const char *key,
    orch_store_service_modify_fn modify, void *marg,
    orch_store_service_done_fn done, void *arg);

/* Queues the deletion of the service with id or name key and of every
 * one of its tasks, in one transaction: a node then finds its replicas
 * gone from its assignments and removes their containers.  ORCH_ENOENT
 * when there is no such service. */
void orch_store_service_delete(struct orch_store *st, const char *key,
    orch_store_service_done_fn done, void *arg);

/* orch_store_service_create() with an idempotency key, as
 * orch_store_task_insert_idem(): two requests are the same when their
 * names, replicas and specs are. */
void orch_store_service_create_idem(struct orch_store *st, orch_service *svc,
    struct orch_store_idem *idem, orch_store_service_done_fn done, void *arg);

/* Blocking forms, as orch_store_task_insert_sync(). */
int orch_store_service_create_idem_sync(struct orch_store *st,
    orch_service *svc, struct orch_store_idem *idem,
    orch_service **out /* OUT */, char *err, size_t errlen);
int orch_store_service_create_sync(struct orch_store *st, orch_service *svc,
    orch_service **out /* OUT */, char *err, size_t errlen);
int orch_store_service_modify_sync(struct orch_store *st, const char *key,
    orch_store_service_modify_fn modify, void *marg,
    orch_service **out /* OUT */, char *err, size_t errlen);
int orch_store_service_delete_sync(struct orch_store *st, const char *key,
    orch_service **out /* OUT */, char *err, size_t errlen);

#endif
