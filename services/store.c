/*
 * store.c: the manager's durable state in SQLite (see store.h).
 *
 * One writer thread owns the read-write connection and is the only thread
 * that ever writes; everyone else queues ops (insert or modify a task,
 * register a node) and is told the outcome through a completion once the
 * batch holding the op has been committed.  Queuing lets the writer put every
 * op that arrived during the previous fsync into the next transaction, so that
 * N concurrent writers pay for far fewer than N fsyncs.  Each op runs in its
 * own SAVEPOINT so that one op's failure (a duplicate id, a refused change)
 * undoes that op alone.
 *
 * Readers open their own read-only connections: in WAL mode they never
 * block the writer nor wait for it, and see the last committed state.
 *
 * SQLite result codes stop here: store_err() maps them to orch codes, and
 * each message names the op and the task or node it was about.
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "error.h"
#include "log.h"
#include "restart.h"

#define STORE_COMPONENT "store"
#define STORE_DB_NAME "orch.db"
/*
 * Most writes in one transaction.  A commit writes every page its batch
 * dirtied to the WAL, and a new task's entries in the indexes of ids and
 * nodes land on random pages: a batch of 512 inserts rewrote most of
 * those indexes, and eight batches of 512 rewrote them eight times where
 * one of 4096 does it once (bench/simcluster.sh).  Writes queued behind
 * a burst (a scheduler pass) are acknowledged sooner for it, not later;
 * only those at the head of a big batch wait for its end.
 */
#define STORE_MAX_BATCH 4096
/* The writer prunes expired idempotency keys at most this often (or once
 * per TTL when shorter), at most this many at a time. */
#define STORE_IDEM_PRUNE_MS 60000
#define STORE_IDEM_PRUNE_MAX 10000
/* Long enough to ride out another process's checkpoint or backup, short
 * enough that a stuck lock shows up as ORCH_EAGAIN rather than a hang. */
#define STORE_BUSY_MS 5000
#define STORE_ERR_LEN 512
#define STORE_MAX_LISTENERS 8 /* commit and event listeners together */
/* While writes are refused (a full disk, say), the writer tries a write
 * of its own this often, so that the store notices space coming back
 * even when nobody writes. */
#define STORE_PROBE_MS 1000
/*
 * Page caches.  The writer's is the larger: every write reads the pages
 * of the rows and indexes it changes.  Readers share the OS page cache
 * and keep a small one each (1 MiB: the upper levels of the indexes; the
 * rows a heartbeat or a list reads are scattered over the file and
 * missed a 4 MiB cache as often, while 9 readers of 4 MiB held a third
 * of the manager's memory with 100,000 tasks, bench/simcluster.sh).  No mmap:
 * each connection's mapping of the file counts in the process's resident memory
 * again (7 connections over a 50 MB database showed 120 MB of RSS for what the
 * page cache holds once), and reads through it measured no faster here than
 * through SQLite's cache (bench/api.sh).
 */
/*
 * The writer's statement journal (the pages a write's SAVEPOINT may roll
 * back) in memory: it holds one write's pages at a time, being emptied at
 * each RELEASE, and on a temporary file it cost a pwrite(2) of every page
 * every write touched, 15% of the writer's CPU with thousands of inserts a
 * second (perf, bench/simcluster.sh).
 */
#define STORE_WRITER_PRAGMA                                                    \
	"PRAGMA cache_size = -16384; PRAGMA mmap_size = 0;"                    \
	"PRAGMA journal_size_limit = 67108864; PRAGMA temp_store = MEMORY"
#define STORE_READER_PRAGMA "PRAGMA cache_size = -1024; PRAGMA mmap_size = 0"

/*
 * The schema, as the migrations that build it: user_version counts those
 * applied.  Append only; never edit one that has shipped.
 */
static const char *const migrations[] = {
    /* 1: tasks.  The blob is the record of truth; the other columns are
     * derived from it when it is written, for lookups, filters and sums.
     * seq (the rowid) gives submission order: without deletions SQLite
     * always picks max(rowid) + 1. */
    "CREATE TABLE tasks ("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  node_id TEXT,"
    "  cpu REAL NOT NULL,"
    "  memory_mb INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  task BLOB NOT NULL"
    ");"
    "CREATE INDEX tasks_status ON tasks(status);"
    "CREATE INDEX tasks_name ON tasks(name);"
    "CREATE INDEX tasks_node_id ON tasks(node_id);",
    /* 2: nodes.  As for tasks, the blob (a serialized orch.Node holding
     * what the agent registered, its id and registered_at) is the record
     * of truth.  A name is one node: registering again under it keeps the
     * id.  Status and heartbeats live in memory, never here. */
    "CREATE TABLE nodes ("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL UNIQUE,"
    "  registered_at INTEGER NOT NULL,"
    "  node BLOB NOT NULL"
    ");",
    /* 3: services, and two columns derived from each task: the service
     * it is a replica of, and whether the reconciler must look at it
     * (orch_task_open(): not final, or a restart or a replica's slot to
     * decide), so that a pass reads those alone, in submission order,
     * however long the history.  Tasks written before this migration
     * have no restart policy: only those not final are open. */
    "CREATE TABLE services ("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL,"
    "  service BLOB NOT NULL"
    ");"
    "ALTER TABLE tasks ADD COLUMN service_id TEXT;"
    "ALTER TABLE tasks ADD COLUMN is_open INTEGER NOT NULL DEFAULT 0;"
    "UPDATE tasks SET is_open = 1 WHERE status IN (1, 2, 3);"
    "CREATE INDEX tasks_service ON tasks(service_id, seq) "
    "  WHERE service_id IS NOT NULL;"
    "CREATE INDEX tasks_open ON tasks(seq) WHERE is_open = 1;",
    /* 4: idempotency keys.  A key of a scope ('task' or 'service') names
     * the object its first request created, kept as it was then
     * (result, a serialized orch.Task or orch.Service) so that a retry
     * is answered the same; a retry's request is compared with it.
     * Rows older than the TTL are ignored, then pruned by created_at. */
    "CREATE TABLE idempotency_keys ("
    "  seq INTEGER PRIMARY KEY,"
    "  scope TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  result BLOB NOT NULL,"
    "  UNIQUE (scope, key)"
    ");"
    "CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);",
    /* 5: events.  Every change of a task, node or service: the serialized
     * orch.Event, whose index is idx.  The writer gives the indexes (the
     * next after max(idx)); pruning never removes the newest, so none is
     * given twice.  No AUTOINCREMENT: its sqlite_sequence row would be
     * one more write per event. */
    "CREATE TABLE events ("
    "  idx INTEGER PRIMARY KEY,"
    "  event BLOB NOT NULL"
    ");",
    /* 6: no index of task names.  No query filters on them (a name is
     * looked up in a list, names repeat), and every new task paid for
     * one more B-tree insert (bench/simcluster.sh). */
    "DROP INDEX tasks_name;",
};
#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* The writer connection's statements, prepared once. */
enum wstmt {
	W_BEGIN,
	W_COMMIT,
	W_ROLLBACK,
	W_SAVEPOINT,
	W_RELEASE,
	W_ROLLBACK_TO,
	W_INSERT,
	W_SELECT,
	W_UPDATE,
	W_NODE_SELECT,
	W_NODE_INSERT,
	W_NODE_UPDATE,
	W_NODE_BY_ID,
	W_SERVICE_BY_ID,
	W_SERVICE_BY_NAME,
	W_SERVICE_INSERT,
	W_SERVICE_UPDATE,
	W_SERVICE_DELETE,
	W_SERVICE_TASKS,
	W_SERVICE_TASKS_DELETE,
	W_EVENT_INSERT,
	W_EVENT_PRUNE,
	W_IDEM_GET,
	W_IDEM_PUT,
	W_IDEM_PRUNE,
	W_COUNT
};

/*
 * An UPDATE of a task sets the blob and, of the derived columns that
 * change after a task is created, those that changed: SQLite rewrites an
 * index's entry whenever the UPDATE sets one of its columns, changed or
 * not, and a status report that set them all rewrote four index entries
 * (status, node, open, service) to change one.  The bits of a mask say
 * which it sets; the other derived columns never change once a task is
 * written, and a write that changes one uses W_UPDATE, which sets all.
 */
#define UPD_STATUS 1u
#define UPD_NODE 2u
#define UPD_OPEN 4u
#define UPD_STMTS 8

/* INSERT and UPDATE share parameter numbers so that one function binds
 * both: ?1 id, ?2 name, ?3 status, ?4 node_id, ?5 cpu, ?6 memory_mb,
 * ?7 created_at, ?8 task, ?9 service_id, ?10 is_open. */
static const char *const wsql[W_COUNT] = {
    [W_BEGIN] = "BEGIN IMMEDIATE",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_SAVEPOINT] = "SAVEPOINT op",
    [W_RELEASE] = "RELEASE op",
    [W_ROLLBACK_TO] = "ROLLBACK TO op",
    [W_INSERT] = "INSERT INTO tasks (id, name, status, node_id, cpu, "
                 "memory_mb, created_at, task, service_id, is_open) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [W_SELECT] = "SELECT task FROM tasks WHERE id = ?1",
    [W_UPDATE] = "UPDATE tasks SET name = ?2, status = ?3, node_id = ?4, "
                 "cpu = ?5, memory_mb = ?6, created_at = ?7, task = ?8, "
                 "service_id = ?9, is_open = ?10 WHERE id = ?1",
    [W_NODE_SELECT] = "SELECT node FROM nodes WHERE name = ?1",
    /* Both: ?1 id, ?2 name, ?3 registered_at, ?4 node. */
    [W_NODE_INSERT] = "INSERT INTO nodes (id, name, registered_at, node) "
                      "VALUES (?1, ?2, ?3, ?4)",
    [W_NODE_UPDATE] =
        "UPDATE nodes SET name = ?2, registered_at = ?3, node = ?4 "
        "WHERE id = ?1",
    [W_NODE_BY_ID] = "SELECT node FROM nodes WHERE id = ?1",
    [W_SERVICE_BY_ID] = "SELECT service FROM services WHERE id = ?1",
    [W_SERVICE_BY_NAME] = "SELECT service FROM services WHERE name = ?1",
    /* ?1 id, ?2 name, ?3 created_at, ?4 service. */
    [W_SERVICE_INSERT] = "INSERT INTO services (id, name, created_at, "
                         "service) VALUES (?1, ?2, ?3, ?4)",
    [W_SERVICE_UPDATE] = "UPDATE services SET service = ?4 WHERE id = ?1",
    [W_SERVICE_DELETE] = "DELETE FROM services WHERE id = ?1",
    [W_SERVICE_TASKS] =
        "SELECT task FROM tasks WHERE service_id = ?1 ORDER BY seq",
    [W_SERVICE_TASKS_DELETE] = "DELETE FROM tasks WHERE service_id = ?1",
    [W_EVENT_INSERT] = "INSERT INTO events (idx, event) VALUES (?1, ?2)",
    [W_EVENT_PRUNE] = "DELETE FROM events WHERE idx < ?1",
    /* ?1 scope, ?2 key, ?3 created_at, ?4 result.  A row still there
     * but expired is replaced. */
    [W_IDEM_GET] = "SELECT result, created_at FROM idempotency_keys "
                   "WHERE scope = ?1 AND key = ?2",
    [W_IDEM_PUT] = "INSERT OR REPLACE INTO idempotency_keys (scope, key, "
                   "created_at, result) VALUES (?1, ?2, ?3, ?4)",
    /* ?1 the oldest created_at kept, ?2 the most rows deleted. */
    [W_IDEM_PRUNE] = "DELETE FROM idempotency_keys WHERE seq IN (SELECT "
                     "seq FROM idempotency_keys WHERE created_at < ?1 "
                     "ORDER BY created_at LIMIT ?2)",
};

/* A reader connection's statements, prepared once. */
enum rstmt {
	R_GET,
	R_LIST_ALL,
	R_LIST_STATUS,
	R_LIST_NODE,
	R_GET_ASSIGNED,
	R_NODE_BY_ID,
	R_NODE_BY_NAME,
	R_NODE_LIST,
	R_NODE_USAGE,
	R_LIST_OPEN,
	R_LIST_SERVICE,
	R_PAGE_ALL,
	R_PAGE_STATUS,
	R_SERVICE_BY_ID,
	R_SERVICE_BY_NAME,
	R_SERVICE_LIST,
	R_PING,
	R_EVENTS_AFTER,
	R_EVENTS_BOUNDS,
	R_TASK_COUNTS,
	R_SERVICE_RUNNING,
	R_BEGIN,
	R_END,
	R_COUNT
};

/* Status numbers in SQL: 1 Pending, 2 Scheduled, 3 Running (orch.proto).
 * A task on node ?1's list: placed there and not final (those with
 * stop_requested included, as they are never final yet). */
#define ASSIGNED_SQL "node_id = ?1 AND status IN (1, 2, 3)"
static const char *const rsql[R_COUNT] = {
    [R_GET] = "SELECT task FROM tasks WHERE id = ?1",
    [R_LIST_ALL] = "SELECT task FROM tasks ORDER BY seq",
    [R_LIST_STATUS] = "SELECT task FROM tasks WHERE status = ?1 ORDER BY seq",
    /* Every task on the node's list. */
    [R_LIST_NODE] =
        "SELECT task FROM tasks WHERE " ASSIGNED_SQL " ORDER BY seq",
    /* One task, when it is on the node's list. */
    [R_GET_ASSIGNED] = "SELECT task FROM tasks WHERE id = ?2 AND " ASSIGNED_SQL,
    [R_NODE_BY_ID] = "SELECT node FROM nodes WHERE id = ?1",
    [R_NODE_BY_NAME] = "SELECT node FROM nodes WHERE name = ?1",
    [R_NODE_LIST] = "SELECT node FROM nodes ORDER BY name",
    /* What holds a node's resources: tasks placed and not yet ended. */
    [R_NODE_USAGE] =
        "SELECT node_id, total(cpu), sum(memory_mb), count(*) "
        "FROM tasks WHERE status IN (2, 3) AND node_id IS NOT NULL "
        "GROUP BY node_id",
    /* What the reconciler and the scheduler look at, through the
     * partial index tasks_open. */
    [R_LIST_OPEN] = "SELECT task FROM tasks WHERE is_open = 1 ORDER BY seq",
    [R_LIST_SERVICE] =
        "SELECT task FROM tasks WHERE service_id = ?1 ORDER BY seq",
    /* A page of the task list, by keyset: a seek to the first seq after
     * the cursor, then the next rows in order, however deep the page.
     * The first is a range of the rowid; the second one of the index
     * tasks_status, whose entries end with the rowid, so that (status,
     * seq) is a range of it with no sort and no new index. */
    [R_PAGE_ALL] = "SELECT seq, task FROM tasks WHERE seq > ?1 "
                   "ORDER BY seq LIMIT ?2",
    [R_PAGE_STATUS] = "SELECT seq, task FROM tasks WHERE status = ?3 "
                      "AND seq > ?1 ORDER BY seq LIMIT ?2",
    [R_SERVICE_BY_ID] = "SELECT service FROM services WHERE id = ?1",
    [R_SERVICE_BY_NAME] = "SELECT service FROM services WHERE name = ?1",
    [R_SERVICE_LIST] = "SELECT service FROM services ORDER BY name",
    /* Reads page 1, so that it fails when the file does. */
    [R_PING] = "SELECT count(*) FROM sqlite_master",
    [R_EVENTS_AFTER] = "SELECT idx, event FROM events WHERE idx > ?1 "
                       "ORDER BY idx LIMIT ?2",
    /* min() and max() of the rowid are each one seek. */
    [R_EVENTS_BOUNDS] = "SELECT min(idx), max(idx) FROM events",
    /* Over the index tasks_status, without reading a task. */
    [R_TASK_COUNTS] = "SELECT status, count(*) FROM tasks GROUP BY status",
    /* The Running tasks only, through tasks_status. */
    [R_SERVICE_RUNNING] =
        "SELECT service_id, count(*) FROM tasks WHERE status = 3 "
        "AND service_id IS NOT NULL GROUP BY service_id",
    [R_BEGIN] = "BEGIN",
    [R_END] = "COMMIT",
};

enum op_kind {
	OP_INSERT,
	OP_MODIFY,
	OP_REPLACE,
	OP_NODE_REGISTER,
	OP_NODE_DRAIN,
	OP_SERVICE_CREATE,
	OP_SERVICE_MODIFY,
	OP_SERVICE_DELETE,
	OP_NODE_EVENT,
};

/*
 * Why the disk refuses writes, if it does.  Each is a state of the store
 * as a whole, not of one write: every write fails alike until it passes,
 * which it does by itself (space freed, the file system writable again),
 * without a restart.
 */
enum store_cond {
	COND_NONE,
	COND_FULL,     /* SQLITE_FULL, ENOSPC, EDQUOT */
	COND_READONLY, /* SQLITE_READONLY, EROFS, EACCES */
	COND_IOERR,    /* any other I/O error on a write */
};

/* What a refused write is told: "<head>: <what failed>; <tail>". */
static const char *const cond_head[] = {
    [COND_FULL] = "the manager's disk is full",
    [COND_READONLY] = "the manager's data directory is read-only",
    [COND_IOERR] = "the manager's disk failed a write",
};
static const char *const cond_tail[] = {
    [COND_FULL] = "writes are refused until space returns; reads still work",
    [COND_READONLY] = "writes are refused until it is writable again; reads "
                      "still work",
    [COND_IOERR] = "writes are refused until the disk takes them again; "
                   "reads still work",
};

/* An object a successful op wrote, for the commit listeners. */
struct touched {
	int kind; /* enum orch_store_kind */
	char id[ORCH_ID_LEN];
	const orch_task *task; /* as written, owned by the op; or NULL */
};

/* An event a successful op wrote, for the event listeners. */
struct op_event {
	struct orch_store_event ev; /* data and object_id point below */
	char object_id[ORCH_ID_LEN];
	uint8_t *data;
};

/* One queued write and, once run, its outcome. */
struct store_op {
	struct store_op *next;
	enum op_kind kind;
	/* Insert, replace: the task to store.  After a successful run of a
	 * task op: the task as stored (for a replace, the new one), handed
	 * to the completion. */
	orch_task *task;
	/* Replace: the old task as modified, for the commit listeners. */
	orch_task *old;
	/* Modify, replace: the task's id (replace: of the old task; NULL for
	 * none).  Node drain, service modify and delete: the id or name. */
	char *id;
	orch_store_modify_fn modify;
	void *marg;
	orch_store_done_fn done;
	/* Node registration: the request (the caller's until completion), the
	 * node as stored once run, and the completion. */
	const Orch__NodeRegistration *reg;
	orch_node *node;
	orch_store_node_done_fn node_done;
	bool drain;      /* node drain: the state wanted */
	int node_status; /* node event: the status it turned to */
	/* Node event of its drivers (not of its status): those unhealthy. */
	bool driver_turn;
	struct orch_driver_health *sick;
	size_t n_sick;
	/* Services: the service to create (taken), or as stored once run. */
	orch_service *svc;
	orch_store_service_modify_fn svc_modify;
	orch_store_service_done_fn svc_done;
	/* Insert and service create: the idempotency key (a copy) and the
	 * caller's struct, told what became of it. */
	char *idem_key;
	struct orch_store_idem *idem;
	void *arg;
	/* What the op wrote, for the commit listeners. */
	struct touched *touched;
	size_t n_touched, cap_touched;
	/* The events it wrote, for the event listeners. */
	struct op_event *events;
	size_t n_events, cap_events;
	int rc;
	char err[STORE_ERR_LEN];
};

/* Services whose replica counts one batch remembers (service_check). */
#define STORE_SVC_SEEN 16

struct orch_store {
	char *path;
	struct orch_store_opts opts;

	/* Used by the writer thread alone once it runs. */
	sqlite3 *db;
	sqlite3_stmt *stmt[W_COUNT];
	/* The UPDATEs of a task that set only some of the columns derived
	 * from it (upd_stmt()), prepared when first needed. */
	sqlite3_stmt *upd[UPD_STMTS];
	uint8_t *pack; /* serialization buffer, reused */
	size_t pack_cap;
	uint8_t *old_pack; /* an object before its change, to compare */
	size_t old_pack_cap;
	uint8_t *ev_pack; /* an event */
	size_t ev_pack_cap;
	uint64_t ev_next; /* the index of the next event */
	char werr[256];   /* SQLite's message for the last failure */
	/* Why the batch being run failed, if the disk refused it. */
	enum store_cond wcond;
	bool wrefused; /* the last transaction was refused (cond below) */

	pthread_t writer;
	bool writer_running;
	int64_t idem_next_prune; /* writer only: orch_now_ms() of the next */
	/* The replica counts service_check() read in this batch: a burst of
	 * thousands of replicas reads its service once, not once each.
	 * Emptied when a batch begins and by every service write, so that
	 * it never outlives what it was read from (a rollback ends the
	 * batch). */
	struct {
		char id[ORCH_ID_LEN];
		uint32_t replicas;
		char name[64];
	} svc_seen[STORE_SVC_SEEN];
	size_t n_svc_seen;

	/* mu guards everything below. */
	pthread_mutex_t mu;
	pthread_cond_t cv; /* the writer waits for ops here */
	bool sync_init;
	struct store_op *head, *tail;
	size_t n_queued;
	size_t want; /* the writer sleeps until n_queued reaches it */
	bool closing;
	int n_readers;
	struct orch_store_stats stats;
	/* Writes refused by the disk: since when, why, and how many. */
	enum store_cond cond;
	char cond_msg[STORE_ERR_LEN];
	int64_t cond_since_ms;
	uint64_t cond_refused;

	/* Listeners: each of commits (commit set) or of events.  lmu, not
	 * mu, guards them and is held while they are called, so that
	 * orch_store_unlisten() returning means no call is running: the
	 * calls for a batch of thousands of writes take a while, and under
	 * mu every thread queueing a write would wait for them. */
	pthread_mutex_t lmu;
	struct listener {
		orch_store_commit_fn commit;
		orch_store_event_fn event;
		void *arg;
	} listeners[STORE_MAX_LISTENERS];
	int n_listeners;
};

struct orch_store_reader {
	struct orch_store *st;
	sqlite3 *db;
	sqlite3_stmt *stmt[R_COUNT];
};

/*
 * Maps a SQLite result code to an orch code.  writing tells whether the
 * statement was a write: a database that cannot be written (full disk,
 * read-only file system, a WAL file that cannot be created, a write that
 * failed) refuses writes only, which is ORCH_ENOSPC (503, try again
 * later: the writer keeps going and the next write may pass), while the
 * same code on a read means the file itself is unusable.
 */
static int
store_err(int src, bool writing)
{
	switch (src & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE: return ORCH_OK;
	case SQLITE_FULL: return ORCH_ENOSPC;
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR: return writing ? ORCH_ENOSPC : ORCH_EIO;
	case SQLITE_CONSTRAINT:
		/* The unique keys besides seq: ids, and node names (which the
		 * writer looks up before it inserts). */
		return src == SQLITE_CONSTRAINT_UNIQUE ||
		        src == SQLITE_CONSTRAINT_PRIMARYKEY
		    ? ORCH_EEXIST
		    : ORCH_EINVAL;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return ORCH_EAGAIN;
	case SQLITE_NOMEM: return ORCH_ENOMEM;
	case SQLITE_TOOBIG: return ORCH_ETOOBIG;
	case SQLITE_MISUSE:
	case SQLITE_RANGE: return ORCH_EINTERNAL;
	}
	/* SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_IOERR on a read and
	 * whatever else means the file cannot be trusted. */
	return ORCH_EIO;
}

/*
 * Whether the failure src of a write (with errno sys_errno of the system
 * call under it, sqlite3_system_errno()) is the disk refusing writes, and
 * why.  SQLite reports a full disk as SQLITE_FULL only for some calls (a
 * WAL-index that cannot grow is SQLITE_IOERR_SHMSIZE), and a read-only
 * file system under an open database as SQLITE_IOERR_WRITE: errno says.
 */
static enum store_cond
cond_of(int src, int sys_errno)
{
	switch (src & 0xff) {
	case SQLITE_FULL: return COND_FULL;
	case SQLITE_READONLY: return COND_READONLY;
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
		if (sys_errno == ENOSPC || sys_errno == EDQUOT)
			return COND_FULL;
		if (sys_errno == EROFS || sys_errno == EACCES ||
		    sys_errno == EPERM)
			return COND_READONLY;
		return COND_IOERR;
	}
	return COND_NONE;
}

/* Steps a statement that returns no rows and resets it.  Returns a SQLite
 * code; reset keeps the error message on the connection for the caller. */
static int
stmt_run(sqlite3_stmt *s)
{
	int src = sqlite3_step(s);

	sqlite3_reset(s);
	return src == SQLITE_DONE || src == SQLITE_ROW ? SQLITE_OK : src;
}

static int
stmts_prepare(sqlite3 *db, const char *const *sql, sqlite3_stmt **stmt, int n)
{
	int src = SQLITE_OK;

	for (int i = 0; i < n && src == SQLITE_OK; i++)
		src = sqlite3_prepare_v3(
		    db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &stmt[i], NULL);
	return src;
}

static void
stmts_finalize(sqlite3_stmt **stmt, int n)
{
	for (int i = 0; i < n; i++) {
		sqlite3_finalize(stmt[i]);
		stmt[i] = NULL;
	}
}

/* Runs a query whose first row's first column is wanted as text. */
static int
db_query_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *v;
	int src;

	buf[0] = '\0';
	if ((src = sqlite3_prepare_v2(db, sql, -1, &s, NULL)) != SQLITE_OK)
		goto out;
	src = sqlite3_step(s);
	if (src == SQLITE_ROW) {
		v = sqlite3_column_text(s, 0);
		snprintf(buf, len, "%s", v != NULL ? (const char *)v : "");
		src = SQLITE_OK;
	} else if (src == SQLITE_DONE) {
		src = SQLITE_OK;
	}
out:
	sqlite3_finalize(s);
	return src;
}

/* Logs why opening failed and returns the code for it. */
static int
open_fail(struct orch_store *st, sqlite3 *db, int src, const char *what)
{
	orch_error(STORE_COMPONENT, "opening %s: %s: %s", st->path, what,
	    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(src));
	return (src & 0xff) == SQLITE_NOMEM ? ORCH_ENOMEM : ORCH_EIO;
}

/* Applies the migrations after version from, each in its own transaction,
 * so that a failure leaves the database at the last complete version. */
static int
store_migrate(struct orch_store *st, int from)
{
	char sql[64], msg[STORE_ERR_LEN];
	int src;

	for (int v = from; v < N_MIGRATIONS; v++) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if ((src = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL,
		         NULL)) != SQLITE_OK ||
		    (src = sqlite3_exec(st->db, migrations[v], NULL, NULL,
		         NULL)) != SQLITE_OK ||
		    (src = sqlite3_exec(st->db, sql, NULL, NULL, NULL)) !=
		        SQLITE_OK ||
		    (src = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL)) !=
		        SQLITE_OK) {
			/* The rollback would overwrite the message. */
			snprintf(
			    msg, sizeof(msg), "%s", sqlite3_errmsg(st->db));
			if (!sqlite3_get_autocommit(st->db))
				sqlite3_exec(
				    st->db, "ROLLBACK", NULL, NULL, NULL);
			orch_error(STORE_COMPONENT,
			    "opening %s: migrating the "
			    "schema from version %d to %d: %s",
			    st->path, v, v + 1, msg);
			return (src & 0xff) == SQLITE_NOMEM ? ORCH_ENOMEM
			                                    : ORCH_EIO;
		}
		orch_info(STORE_COMPONENT, "%s: schema migrated to version %d",
		    st->path, v + 1);
	}
	return ORCH_OK;
}

/* Opens the writer connection, sets it up, checks and migrates. */
static int
store_db_open(struct orch_store *st)
{
	char val[STORE_ERR_LEN];
	long version;
	char *end;
	int src, rc = ORCH_OK;

	src = sqlite3_open_v2(st->path, &st->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	    NULL);
	if (src != SQLITE_OK)
		return open_fail(st, st->db, src, "opening the database");
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	if ((src = sqlite3_exec(st->db, "PRAGMA foreign_keys = ON", NULL, NULL,
	         NULL)) != SQLITE_OK)
		return open_fail(st, st->db, src, "enabling foreign keys");
	/* The version first, so that a database of a newer program is left
	 * exactly as it was, journal mode included.  This is also the first
	 * read of the file: one that is not a database fails here. */
	if ((src = db_query_text(
	         st->db, "PRAGMA user_version", val, sizeof(val))) != SQLITE_OK)
		return open_fail(st, st->db, src, "reading the schema version");
	version = strtol(val, &end, 10);
	if (end == val || *end != '\0' || version < 0) {
		orch_error(STORE_COMPONENT,
		    "opening %s: schema version \"%s\" is "
		    "not one of orch's; refusing to use it",
		    st->path, val);
		return ORCH_EIO;
	}
	if (version > N_MIGRATIONS) {
		orch_error(STORE_COMPONENT,
		    "opening %s: schema version %ld is newer than this "
		    "program understands (at most %d); refusing to use it",
		    st->path, version, N_MIGRATIONS);
		return ORCH_EIO;
	}

	if ((src = db_query_text(st->db, "PRAGMA journal_mode = WAL", val,
	         sizeof(val))) != SQLITE_OK)
		return open_fail(st, st->db, src, "setting WAL mode");
	if (strcmp(val, "wal") != 0) {
		orch_error(STORE_COMPONENT,
		    "opening %s: the database stays in "
		    "journal mode \"%s\" instead of WAL",
		    st->path, val);
		return ORCH_EIO;
	}
	if ((src = sqlite3_exec(st->db,
	         st->opts.sync_full ? "PRAGMA synchronous = FULL"
	                            : "PRAGMA synchronous = NORMAL",
	         NULL, NULL, NULL)) != SQLITE_OK)
		return open_fail(st, st->db, src, "setting synchronous");
	/* Task ids are random, so inserts touch index pages all over the
	 * file: a page cache that holds the indexes saves a pread per page.
	 * It grows only as far as the database does. */
	if ((src = sqlite3_exec(
	         st->db, STORE_WRITER_PRAGMA, NULL, NULL, NULL)) != SQLITE_OK)
		return open_fail(st, st->db, src, "sizing the page cache");

	/* quick_check reads every page once (no index cross-checks): linear
	 * in the size of the database, a fraction of a second for the sizes
	 * the manager keeps, and it refuses a damaged file at start rather
	 * than failing requests at random later. */
	if ((src = db_query_text(
	         st->db, "PRAGMA quick_check", val, sizeof(val))) != SQLITE_OK)
		return open_fail(st, st->db, src, "checking integrity");
	if (strcmp(val, "ok") != 0) {
		orch_error(STORE_COMPONENT,
		    "opening %s: the database is corrupt: %s", st->path, val);
		return ORCH_EIO;
	}

	if ((rc = store_migrate(st, (int)version)) != ORCH_OK)
		return rc;
	/* The newest event is never pruned (at least one is kept), so the
	 * highest index ever given is still in the table. */
	if ((src = db_query_text(st->db,
	         "SELECT coalesce(max(idx), 0) FROM events", val,
	         sizeof(val))) != SQLITE_OK)
		return open_fail(st, st->db, src, "reading the last event");
	st->ev_next = strtoull(val, &end, 10) + 1;
	if ((src = stmts_prepare(st->db, wsql, st->stmt, W_COUNT)) != SQLITE_OK)
		return open_fail(st, st->db, src, "preparing statements");
	return ORCH_OK;
}

/* ---- the writer ---- */

static const char *
op_verb(const struct store_op *op)
{
	switch (op->kind) {
	case OP_INSERT: return "inserting";
	case OP_MODIFY: return "modifying";
	case OP_REPLACE: return "replacing";
	case OP_NODE_REGISTER: return "registering";
	case OP_NODE_DRAIN: return op->drain ? "draining" : "undraining";
	case OP_SERVICE_CREATE: return "creating";
	case OP_SERVICE_MODIFY: return "updating";
	case OP_SERVICE_DELETE: return "deleting";
	case OP_NODE_EVENT: return "recording an event of";
	}
	return "writing";
}

/* The task id, or the node's or service's name or key, that op is
 * about. */
static const char *
op_id(const struct store_op *op)
{
	const char *id = NULL;

	switch (op->kind) {
	case OP_INSERT: id = op->task != NULL ? op->task->id : NULL; break;
	case OP_REPLACE:
		id = op->id != NULL    ? op->id
		    : op->task != NULL ? op->task->id
		                       : NULL;
		break;
	case OP_MODIFY:
	case OP_NODE_DRAIN:
	case OP_NODE_EVENT:
	case OP_SERVICE_MODIFY:
	case OP_SERVICE_DELETE: id = op->id; break;
	case OP_NODE_REGISTER:
		id = op->reg != NULL ? op->reg->name : NULL;
		break;
	case OP_SERVICE_CREATE:
		id = op->svc != NULL ? op->svc->name : NULL;
		break;
	}
	return id != NULL ? id : "(without id)";
}

/* What op is about, for a message: "task <id>", "node \"<name>\"" or
 * "service \"<name>\"". */
static void
op_what(const struct store_op *op, char *buf, size_t len)
{
	switch (op->kind) {
	case OP_NODE_REGISTER:
	case OP_NODE_DRAIN:
	case OP_NODE_EVENT:
		snprintf(buf, len, "node \"%.128s\"", op_id(op));
		break;
	case OP_SERVICE_CREATE:
	case OP_SERVICE_MODIFY:
	case OP_SERVICE_DELETE:
		snprintf(buf, len, "service \"%.128s\"", op_id(op));
		break;
	default: snprintf(buf, len, "task %.40s", op_id(op)); break;
	}
}

/* Fails op with code and a message naming the op and its task or node. */
static void
op_set_err(struct store_op *op, int code, const char *detail)
{
	char what[160];

	op->rc = code;
	op_what(op, what, sizeof(what));
	snprintf(op->err, sizeof(op->err), "%s %s: %.300s", op_verb(op), what,
	    detail);
}

/* Fails op with ORCH_ENOSPC because the disk refused the write (cond),
 * saying so first and what a client may do about it last. */
static void
op_set_cond_err(struct store_op *op, enum store_cond cond, const char *detail)
{
	char what[160];

	op->rc = ORCH_ENOSPC;
	op_what(op, what, sizeof(what));
	snprintf(op->err, sizeof(op->err), "%s: %s %s: %.200s; %s",
	    cond_head[cond], op_verb(op), what, detail, cond_tail[cond]);
}

/*
 * The errno under the writer's last failure.  sqlite3_system_errno() has
 * it only for some failures (not for a failed COMMIT); the unix VFS also
 * keeps the last errno of each file, and a COMMIT writes the WAL.  A
 * file's last errno may be older than this failure, which can only name
 * the wrong cause in a message: every cause refuses writes alike.
 */
static int
writer_errno(struct orch_store *st)
{
	sqlite3_file *wal = NULL;
	int e = sqlite3_system_errno(st->db);

	if (e == 0 &&
	    sqlite3_file_control(st->db, "main", SQLITE_FCNTL_JOURNAL_POINTER,
	        &wal) == SQLITE_OK &&
	    wal != NULL && wal->pMethods != NULL)
		wal->pMethods->xFileControl(wal, SQLITE_FCNTL_LAST_ERRNO, &e);
	if (e == 0)
		sqlite3_file_control(
		    st->db, "main", SQLITE_FCNTL_LAST_ERRNO, &e);
	return e;
}

/* Notes on the writer why the batch failed when the disk refused src. */
static enum store_cond
writer_cond(struct orch_store *st, int src)
{
	enum store_cond cond = cond_of(src, writer_errno(st));

	if (cond != COND_NONE && st->wcond == COND_NONE)
		st->wcond = cond;
	return cond;
}

/* Fails op with the writer connection's last error. */
static void
op_set_db_err(struct orch_store *st, struct store_op *op, int src)
{
	bool on_db = sqlite3_extended_errcode(st->db) == src;
	enum store_cond cond = on_db ? writer_cond(st, src) : COND_NONE;

	/* A failure of ours (no memory to serialize) is not on the connection.
	 */
	snprintf(st->werr, sizeof(st->werr), "%s",
	    on_db ? sqlite3_errmsg(st->db) : sqlite3_errstr(src));
	if (cond != COND_NONE)
		op_set_cond_err(op, cond, st->werr);
	else
		op_set_err(op, store_err(src, true), st->werr);
}

/* Records that op wrote object id of kind, for the listeners; task is
 * the task as written, which op keeps until it completes, or NULL.
 * Returns ORCH_OK or ORCH_ENOMEM. */
static int
op_touch(struct store_op *op, int kind, const char *id, const orch_task *task)
{
	if (op->n_touched == op->cap_touched) {
		size_t cap = op->cap_touched > 0 ? op->cap_touched * 2 : 2;
		struct touched *v = realloc(op->touched, cap * sizeof(*v));

		if (v == NULL)
			return ORCH_ENOMEM;
		op->touched = v;
		op->cap_touched = cap;
	}
	op->touched[op->n_touched].kind = kind;
	op->touched[op->n_touched].task = task;
	snprintf(op->touched[op->n_touched].id, ORCH_ID_LEN, "%s",
	    id != NULL ? id : "");
	op->n_touched++;
	return ORCH_OK;
}

/* op_touch(), failing op when out of memory.  Returns whether it worked. */
static bool
op_touch_ok(
    struct store_op *op, int kind, const char *id, const orch_task *task)
{
	if (op_touch(op, kind, id, task) == ORCH_OK)
		return true;
	op_set_err(op, ORCH_ENOMEM, "out of memory");
	return false;
}

/* Serializes m into *buf, a reused buffer of *cap bytes that grows as
 * needed.  Returns ORCH_OK or ORCH_ENOMEM. */
static int
pack_into(uint8_t **buf, size_t *bufcap, const ProtobufCMessage *m,
    size_t *len /* OUT */)
{
	size_t n = protobuf_c_message_get_packed_size(m);

	if (n > *bufcap) {
		size_t cap = *bufcap > 0 ? *bufcap : 4096;
		uint8_t *p;

		while (cap < n)
			cap *= 2;
		if ((p = realloc(*buf, cap)) == NULL)
			return ORCH_ENOMEM;
		*buf = p;
		*bufcap = cap;
	}
	*len = protobuf_c_message_pack(m, *buf);
	return ORCH_OK;
}

/* Serializes m into the writer's buffer.  Returns ORCH_OK or ORCH_ENOMEM. */
static int
msg_pack(
    struct orch_store *st, const ProtobufCMessage *m, size_t *len /* OUT */)
{
	return pack_into(&st->pack, &st->pack_cap, m, len);
}

/* ---- events ---- */

/* What an event is about, and the object it carries (one of them). */
struct ev_what {
	const char *type; /* static */
	int kind;
	const char *object_id;
	orch_task *task;
	orch_node *node;
	orch_service *svc;
	int prev_status; /* task.status */
};

/*
 * Appends one event to the events table, inside op's savepoint, and
 * keeps it for the event listeners.  Returns ORCH_OK or fails op.
 */
static int
event_write(struct orch_store *st, struct store_op *op, const struct ev_what *w)
{
	Orch__Event ev = ORCH__EVENT__INIT;
	sqlite3_stmt *s = st->stmt[W_EVENT_INSERT];
	struct op_event *oe;
	size_t len;
	int src;

	ev.has_index = true;
	ev.index = st->ev_next;
	ev.has_time_ms = true;
	ev.time_ms = orch_now_ms();
	ev.type = (char *)w->type;
	ev.object_id = (char *)w->object_id;
	ev.task = w->task;
	ev.node = w->node;
	ev.service = w->svc;
	if (w->prev_status != 0) {
		ev.has_previous_status = true;
		ev.previous_status = (Orch__TaskStatus)w->prev_status;
	}
	if (op->n_events == op->cap_events) {
		size_t cap = op->cap_events > 0 ? op->cap_events * 2 : 2;
		struct op_event *v = realloc(op->events, cap * sizeof(*v));

		if (v == NULL)
			goto nomem;
		op->events = v;
		op->cap_events = cap;
	}
	if (pack_into(&st->ev_pack, &st->ev_pack_cap, &ev.base, &len) !=
	    ORCH_OK)
		goto nomem;
	oe = &op->events[op->n_events];
	memset(oe, 0, sizeof(*oe));
	if ((oe->data = malloc(len > 0 ? len : 1)) == NULL)
		goto nomem;
	memcpy(oe->data, st->ev_pack, len);
	src = sqlite3_bind_int64(s, 1, (sqlite3_int64)ev.index);
	if (src == SQLITE_OK)
		src = sqlite3_bind_blob64(s, 2, oe->data, len, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = stmt_run(s);
	sqlite3_clear_bindings(s);
	if (src != SQLITE_OK) {
		free(oe->data);
		op_set_db_err(st, op, src);
		return op->rc;
	}
	snprintf(oe->object_id, sizeof(oe->object_id), "%s",
	    w->object_id != NULL ? w->object_id : "");
	oe->ev.index = ev.index;
	oe->ev.time_ms = ev.time_ms;
	oe->ev.kind = w->kind;
	oe->ev.type = w->type;
	oe->ev.prev_status = w->prev_status;
	if (w->task != NULL)
		oe->ev.status = (int)w->task->status;
	oe->ev.len = len;
	op->n_events++;
	st->ev_next++;
	return ORCH_OK;
nomem:
	op_set_err(op, ORCH_ENOMEM, "out of memory");
	return op->rc;
}

/* Drops the events op wrote (it failed, or has been heard of). */
static void
op_events_free(struct store_op *op)
{
	for (size_t i = 0; i < op->n_events; i++)
		free(op->events[i].data);
	free(op->events);
	op->events = NULL;
	op->n_events = op->cap_events = 0;
}

/* An event of task t. */
static int
event_task(struct orch_store *st, struct store_op *op, const char *type,
    orch_task *t, int prev_status)
{
	struct ev_what w = {.type = type,
	    .kind = ORCH_STORE_TASK,
	    .object_id = t->id,
	    .task = t,
	    .prev_status = prev_status};

	return event_write(st, op, &w);
}

static int
event_node(
    struct orch_store *st, struct store_op *op, const char *type, orch_node *n)
{
	struct ev_what w = {.type = type,
	    .kind = ORCH_STORE_NODE,
	    .object_id = n->id,
	    .node = n};

	return event_write(st, op, &w);
}

/* An event of svc, without its tasks (a deleted service holds them). */
static int
event_service(struct orch_store *st, struct store_op *op, const char *type,
    orch_service *svc)
{
	struct ev_what w = {.type = type,
	    .kind = ORCH_STORE_SERVICE,
	    .object_id = svc->id,
	    .svc = svc};
	size_t n_tasks = svc->n_tasks;
	int rc;

	svc->n_tasks = 0;
	rc = event_write(st, op, &w);
	svc->n_tasks = n_tasks;
	return rc;
}

/* Keeps the last events_keep events.  Returns a SQLite code. */
static int
events_prune(struct orch_store *st)
{
	sqlite3_stmt *s = st->stmt[W_EVENT_PRUNE];
	int src;

	if (st->ev_next <= st->opts.events_keep + 1)
		return SQLITE_OK;
	src = sqlite3_bind_int64(
	    s, 1, (sqlite3_int64)(st->ev_next - st->opts.events_keep));
	if (src == SQLITE_OK)
		src = stmt_run(s);
	sqlite3_clear_bindings(s);
	return src;
}

/* Binds t, serialized in st->pack, and the columns derived from it. */
static int
task_bind(
    struct orch_store *st, sqlite3_stmt *s, const orch_task *t, size_t len)
{
	const orch_task_spec *sp = t->spec;
	/* An UPDATE of some columns numbers fewer parameters: binding one
	 * past its largest would fail. */
	int np = sqlite3_bind_parameter_count(s);
	int src;

	src = sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
	if (src == SQLITE_OK && np >= 2)
		src = sqlite3_bind_text(s, 2,
		    sp != NULL && sp->name != NULL ? sp->name : "", -1,
		    SQLITE_STATIC);
	if (src == SQLITE_OK && np >= 3)
		src = sqlite3_bind_int(s, 3, (int)t->status);
	if (src == SQLITE_OK && np >= 4)
		src = t->node_id != NULL
		    ? sqlite3_bind_text(s, 4, t->node_id, -1, SQLITE_STATIC)
		    : sqlite3_bind_null(s, 4);
	if (src == SQLITE_OK && np >= 5)
		src = sqlite3_bind_double(s, 5, sp != NULL ? sp->cpu : 0.0);
	if (src == SQLITE_OK && np >= 6)
		src = sqlite3_bind_int64(s, 6, sp != NULL ? sp->memory_mb : 0);
	if (src == SQLITE_OK && np >= 7)
		src = sqlite3_bind_int64(s, 7, t->created_at_ms);
	if (src == SQLITE_OK && np >= 8)
		src = sqlite3_bind_blob64(s, 8, st->pack, len, SQLITE_STATIC);
	if (src == SQLITE_OK && np >= 9)
		src = t->service_id != NULL && t->service_id[0] != '\0'
		    ? sqlite3_bind_text(s, 9, t->service_id, -1, SQLITE_STATIC)
		    : sqlite3_bind_null(s, 9);
	if (src == SQLITE_OK && np >= 10)
		src = sqlite3_bind_int(s, 10, orch_task_open(t) ? 1 : 0);
	return src;
}

/* The columns derived from a task, as they were before a change (a
 * string too long for its copy counts as changed). */
struct task_cols {
	char name[256], service_id[ORCH_ID_LEN + 1];
	bool long_strings;
	double cpu;
	int64_t memory_mb, created_at_ms;
	int status;
	bool open;
	bool node_null; /* stored as NULL, not as text */
	char node_id[ORCH_ID_LEN + 1];
};

static bool
copy_col(char *dst, size_t len, const char *src)
{
	return (size_t)snprintf(dst, len, "%s", src != NULL ? src : "") < len;
}

static void
task_cols_of(const orch_task *t, struct task_cols *f)
{
	const orch_task_spec *sp = t->spec;

	f->long_strings = !copy_col(f->name, sizeof(f->name),
	                      sp != NULL && sp->name != NULL ? sp->name : "") ||
	    !copy_col(f->service_id, sizeof(f->service_id), t->service_id) ||
	    !copy_col(f->node_id, sizeof(f->node_id), t->node_id);
	f->cpu = sp != NULL ? sp->cpu : 0.0;
	f->memory_mb = sp != NULL ? sp->memory_mb : 0;
	f->created_at_ms = t->created_at_ms;
	f->status = (int)t->status;
	f->open = orch_task_open(t);
	f->node_null = t->node_id == NULL;
}

/*
 * The UPDATE statement for t, whose columns were was before its change: the one
 * that sets the blob and the derived columns that changed, prepared on
 * first use; W_UPDATE when a column only it sets changed.  NULL when it
 * cannot be prepared (out of memory; st->werr says).
 */
static sqlite3_stmt *
upd_stmt(struct orch_store *st, const struct task_cols *was, const orch_task *t)
{
	struct task_cols now;
	unsigned mask = 0;
	char sql[160];
	int src;

	task_cols_of(t, &now);
	if (was->long_strings || now.long_strings ||
	    strcmp(was->name, now.name) != 0 ||
	    strcmp(was->service_id, now.service_id) != 0 ||
	    was->cpu != now.cpu || was->memory_mb != now.memory_mb ||
	    was->created_at_ms != now.created_at_ms)
		return st->stmt[W_UPDATE];
	mask |= was->status != now.status ? UPD_STATUS : 0;
	mask |= was->node_null != now.node_null ||
	        strcmp(was->node_id, now.node_id) != 0
	    ? UPD_NODE
	    : 0;
	mask |= was->open != now.open ? UPD_OPEN : 0;
	if (st->upd[mask] != NULL)
		return st->upd[mask];
	snprintf(sql, sizeof(sql),
	    "UPDATE tasks SET task = ?8%s%s%s WHERE id = ?1",
	    mask & UPD_STATUS ? ", status = ?3" : "",
	    mask & UPD_NODE ? ", node_id = ?4" : "",
	    mask & UPD_OPEN ? ", is_open = ?10" : "");
	if ((src = sqlite3_prepare_v3(st->db, sql, -1,
	         SQLITE_PREPARE_PERSISTENT, &st->upd[mask], NULL)) !=
	    SQLITE_OK) {
		snprintf(
		    st->werr, sizeof(st->werr), "%s", sqlite3_errmsg(st->db));
		st->upd[mask] = NULL;
		return NULL;
	}
	return st->upd[mask];
}

/* Writes t with s (the INSERT or the UPDATE).  Returns a SQLite code. */
static int
task_write(struct orch_store *st, sqlite3_stmt *s, const orch_task *t)
{
	size_t len;
	int src;

	if (msg_pack(st, &t->base, &len) != ORCH_OK)
		return SQLITE_NOMEM;
	if ((src = task_bind(st, s, t, len)) == SQLITE_OK)
		src = stmt_run(s);
	/* The bindings point into buffers that do not outlive this call. */
	sqlite3_clear_bindings(s);
	return src;
}

/*
 * Steps s (bound to one key, selecting one blob) and decodes its row
 * with unpack.  Returns ORCH_OK with *out, ORCH_ENOENT when there is no
 * row, or fails op (ORCH_EIO when the blob does not decode: corrupt).
 * Resets s.
 */
static int
writer_one(struct orch_store *st, struct store_op *op, sqlite3_stmt *s,
    const char *key, void *(*unpack)(size_t, const uint8_t *),
    void **out /* OUT */)
{
	char msg[128];
	void *m;
	int src, n, rc = ORCH_OK;

	*out = NULL;
	if ((src = sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC)) !=
	    SQLITE_OK) {
		op_set_db_err(st, op, src);
		rc = op->rc;
		goto out;
	}
	src = sqlite3_step(s);
	if (src == SQLITE_DONE) {
		rc = ORCH_ENOENT;
		goto out;
	}
	if (src != SQLITE_ROW) {
		op_set_db_err(st, op, src);
		rc = op->rc;
		goto out;
	}
	n = sqlite3_column_bytes(s, 0);
	if ((m = unpack((size_t)n, sqlite3_column_blob(s, 0))) == NULL) {
		snprintf(msg, sizeof(msg),
		    "its stored record (%d bytes) does "
		    "not decode: the database is corrupt",
		    n);
		op_set_err(op, ORCH_EIO, msg);
		orch_error(STORE_COMPONENT, "%s: %s", st->path, op->err);
		rc = ORCH_EIO;
		goto out;
	}
	*out = m;
out:
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

static void *
unpack_task(size_t n, const uint8_t *b)
{
	return orch__task__unpack(NULL, n, b);
}

static void *
unpack_node(size_t n, const uint8_t *b)
{
	return orch__node__unpack(NULL, n, b);
}

static void *
unpack_service(size_t n, const uint8_t *b)
{
	return orch__service__unpack(NULL, n, b);
}

/* Finds the service with id or name key.  Returns ORCH_OK with *out (a
 * new service), ORCH_ENOENT, or fails op. */
static int
service_find(struct orch_store *st, struct store_op *op, const char *key,
    orch_service **out /* OUT */)
{
	void *m = NULL;
	int rc;

	rc = writer_one(
	    st, op, st->stmt[W_SERVICE_BY_ID], key, unpack_service, &m);
	if (rc == ORCH_ENOENT)
		rc = writer_one(st, op, st->stmt[W_SERVICE_BY_NAME], key,
		    unpack_service, &m);
	if (rc == ORCH_OK &&
	    (((orch_service *)m)->id == NULL ||
	        ((orch_service *)m)->name == NULL)) {
		orch_service_free(m);
		op_set_err(op, ORCH_EIO,
		    "its stored record has no id or name: "
		    "the database is corrupt");
		return ORCH_EIO;
	}
	*out = m;
	return rc;
}

/*
 * A replica is inserted only while its service exists and wants its
 * slot, so that a pass that read the service before it was deleted or
 * scaled down cannot bring a replica back.  Returns ORCH_OK or fails op.
 */
static int
service_check(struct orch_store *st, struct store_op *op, const orch_task *t)
{
	orch_service *svc = NULL;
	void *m = NULL;
	char msg[160];
	int rc;

	if (t->service_id == NULL || t->service_id[0] == '\0')
		return ORCH_OK;
	for (size_t i = 0; i < st->n_svc_seen; i++) {
		if (strcmp(st->svc_seen[i].id, t->service_id) != 0)
			continue;
		if (t->slot >= 1 && t->slot <= st->svc_seen[i].replicas)
			return ORCH_OK;
		snprintf(msg, sizeof(msg),
		    "service \"%.64s\" has %u replicas "
		    "and no slot %u",
		    st->svc_seen[i].name, (unsigned)st->svc_seen[i].replicas,
		    (unsigned)t->slot);
		op_set_err(op, ORCH_ECONFLICT, msg);
		return ORCH_ECONFLICT;
	}
	rc = writer_one(st, op, st->stmt[W_SERVICE_BY_ID], t->service_id,
	    unpack_service, &m);
	svc = m;
	if (rc == ORCH_OK && st->n_svc_seen < STORE_SVC_SEEN &&
	    strlen(t->service_id) < ORCH_ID_LEN) {
		size_t k = st->n_svc_seen++;

		memcpy(st->svc_seen[k].id, t->service_id,
		    strlen(t->service_id) + 1);
		st->svc_seen[k].replicas = svc->replicas;
		snprintf(st->svc_seen[k].name, sizeof(st->svc_seen[k].name),
		    "%s", svc->name != NULL ? svc->name : "");
	}
	if (rc == ORCH_ENOENT) {
		snprintf(msg, sizeof(msg), "its service %.40s no longer exists",
		    t->service_id);
		op_set_err(op, ORCH_ECONFLICT, msg);
		return ORCH_ECONFLICT;
	}
	if (rc != ORCH_OK)
		return rc;
	if (t->slot < 1 || t->slot > svc->replicas) {
		snprintf(msg, sizeof(msg),
		    "service \"%.64s\" has %u replicas "
		    "and no slot %u",
		    svc->name != NULL ? svc->name : "", (unsigned)svc->replicas,
		    (unsigned)t->slot);
		op_set_err(op, ORCH_ECONFLICT, msg);
		rc = ORCH_ECONFLICT;
	}
	orch_service_free(svc);
	return rc;
}

/* Inserts t (op's), checking its service first.  Returns ORCH_OK or
 * fails op. */
static int
task_insert(struct orch_store *st, struct store_op *op, orch_task *t)
{
	int src;

	if (service_check(st, op, t) != ORCH_OK)
		return op->rc;
	if ((src = task_write(st, st->stmt[W_INSERT], t)) != SQLITE_OK) {
		if (store_err(src, true) == ORCH_EEXIST) {
			snprintf(st->werr, sizeof(st->werr), "%s",
			    sqlite3_errmsg(st->db));
			op_set_err(op, ORCH_EEXIST,
			    "a task with this id already exists");
		} else {
			op_set_db_err(st, op, src);
		}
		return op->rc;
	}
	if (!op_touch_ok(op, ORCH_STORE_TASK, t->id, t) ||
	    event_task(st, op, "task.created", t, 0) != ORCH_OK)
		return op->rc;
	return ORCH_OK;
}

/* ---- idempotency keys ---- */

static int64_t
idem_ttl_ms(const struct orch_store *st)
{
	return st->opts.idem_ttl_ms > 0 ? st->opts.idem_ttl_ms
	                                : ORCH_IDEM_TTL_MS_DEFAULT;
}

static int
env_cmp(const void *a, const void *b)
{
	const Orch__TaskSpec__EnvEntry *x =
	    *(Orch__TaskSpec__EnvEntry *const *)a;
	const Orch__TaskSpec__EnvEntry *y =
	    *(Orch__TaskSpec__EnvEntry *const *)b;
	int c =
	    strcmp(x->key != NULL ? x->key : "", y->key != NULL ? y->key : "");

	return c != 0 ? c
	              : strcmp(x->value != NULL ? x->value : "",
	                    y->value != NULL ? y->value : "");
}

/*
 * What a request with a key asked for, as bytes that are equal when two
 * requests mean the same: spec as stored (defaults filled) with its env
 * sorted by key, and for a service its name and replicas (svc_name not
 * NULL).  On ORCH_OK *out is malloc'd.  Returns ORCH_OK or ORCH_ENOMEM.
 */
static int
idem_fingerprint(const orch_task_spec *spec, const char *svc_name,
    uint32_t replicas, uint8_t **out /* OUT */, size_t *len /* OUT */)
{
	Orch__TaskSpec copy = *spec;
	Orch__Service svc = ORCH__SERVICE__INIT;
	Orch__TaskSpec__EnvEntry **env = NULL;
	const ProtobufCMessage *m = &copy.base;

	*out = NULL;
	if (spec->n_env > 0) {
		if ((env = malloc(spec->n_env * sizeof(*env))) == NULL)
			return ORCH_ENOMEM;
		memcpy(env, spec->env, spec->n_env * sizeof(*env));
		qsort(env, spec->n_env, sizeof(*env), env_cmp);
		copy.env = env;
	}
	if (svc_name != NULL) {
		svc.name = (char *)svc_name;
		svc.has_replicas = true;
		svc.replicas = replicas;
		svc.spec = &copy;
		m = &svc.base;
	}
	*len = protobuf_c_message_get_packed_size(m);
	if ((*out = malloc(*len > 0 ? *len : 1)) != NULL)
		protobuf_c_message_pack(m, *out);
	free(env);
	return *out != NULL ? ORCH_OK : ORCH_ENOMEM;
}

/* Whether two requests' fingerprints (idem_fingerprint()) are equal.
 * Returns 1, 0, or -1 when out of memory. */
static int
idem_same(const orch_task_spec *a, const orch_task_spec *b, const char *a_name,
    const char *b_name, uint32_t a_replicas, uint32_t b_replicas)
{
	uint8_t *fa = NULL, *fb = NULL;
	size_t la = 0, lb = 0;
	int same = -1;

	if (a == NULL || b == NULL)
		return a == b;
	if (idem_fingerprint(a, a_name, a_replicas, &fa, &la) == ORCH_OK &&
	    idem_fingerprint(b, b_name, b_replicas, &fb, &lb) == ORCH_OK)
		same = la == lb && memcmp(fa, fb, la) == 0;
	free(fb);
	free(fa);
	return same;
}

/*
 * Looks up op's key in scope.  Returns ORCH_ENOENT when it is unknown or
 * has expired (the caller creates, then records it), ORCH_OK with *out
 * the object the key's first request created (unpacked with unpack), or
 * fails op.
 */
static int
idem_lookup(struct orch_store *st, struct store_op *op, const char *scope,
    void *(*unpack)(size_t, const uint8_t *), void **out /* OUT */)
{
	sqlite3_stmt *s = st->stmt[W_IDEM_GET];
	int src, n, rc = ORCH_ENOENT;

	*out = NULL;
	src = sqlite3_bind_text(s, 1, scope, -1, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = sqlite3_bind_text(s, 2, op->idem_key, -1, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = sqlite3_step(s);
	if (src == SQLITE_ROW &&
	    sqlite3_column_int64(s, 1) >= orch_now_ms() - idem_ttl_ms(st)) {
		n = sqlite3_column_bytes(s, 0);
		if ((*out = unpack((size_t)n, sqlite3_column_blob(s, 0))) ==
		    NULL) {
			op_set_err(op, ORCH_EIO,
			    "the result stored with its idempotency key "
			    "does not decode: the database is corrupt");
			orch_error(
			    STORE_COMPONENT, "%s: %s", st->path, op->err);
			rc = ORCH_EIO;
		} else {
			rc = ORCH_OK;
		}
	} else if (src != SQLITE_ROW && src != SQLITE_DONE) {
		op_set_db_err(st, op, src);
		rc = op->rc;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

/* Records op's key in scope with m, the object just created, in the
 * same savepoint.  Returns ORCH_OK or fails op. */
static int
idem_record(struct orch_store *st, struct store_op *op, const char *scope,
    const ProtobufCMessage *m)
{
	sqlite3_stmt *s = st->stmt[W_IDEM_PUT];
	size_t len;
	int src;

	if (msg_pack(st, m, &len) != ORCH_OK) {
		op_set_err(op, ORCH_ENOMEM, "out of memory");
		return op->rc;
	}
	src = sqlite3_bind_text(s, 1, scope, -1, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = sqlite3_bind_text(s, 2, op->idem_key, -1, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(s, 3, orch_now_ms());
	if (src == SQLITE_OK)
		src = sqlite3_bind_blob64(s, 4, st->pack, len, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = stmt_run(s);
	sqlite3_clear_bindings(s);
	if (src != SQLITE_OK)
		op_set_db_err(st, op, src);
	return op->rc;
}

/* Settles a known key: same is idem_same()'s answer for the retry and
 * the first request, which created the object id.  Returns true when the
 * retry is to be answered the first result. */
static bool
idem_settle(struct store_op *op, int same, const char *what, const char *id)
{
	if (same < 0) {
		op->rc = ORCH_ENOMEM;
		snprintf(op->err, sizeof(op->err), "out of memory");
		return false;
	}
	if (!same) {
		op->idem->mismatch = true;
		op->rc = ORCH_ECONFLICT;
		snprintf(op->err, sizeof(op->err),
		    "idempotency key \"%s\" was already used with a "
		    "different request, which created %s %s; a new request "
		    "needs a new key",
		    op->idem_key, what, id != NULL ? id : "");
		return false;
	}
	op->idem->replayed = true;
	return true;
}

/*
 * Prunes idempotency keys past their TTL, at most once per TTL or
 * STORE_IDEM_PRUNE_MS, in a transaction of its own after a batch: a
 * failure here must not cost the batch anything, and a lookup ignores
 * expired keys anyway, so pruning late is harmless.
 */
static void
idem_prune(struct orch_store *st)
{
	sqlite3_stmt *s = st->stmt[W_IDEM_PRUNE];
	int64_t now = orch_now_ms(), ttl = idem_ttl_ms(st);
	int src, n = 0;

	/* Nothing to gain from a delete the disk would refuse. */
	if (now < st->idem_next_prune || st->wrefused)
		return;
	st->idem_next_prune =
	    now + (ttl < STORE_IDEM_PRUNE_MS ? ttl : STORE_IDEM_PRUNE_MS);
	if (!sqlite3_get_autocommit(st->db))
		stmt_run(st->stmt[W_ROLLBACK]);
	src = stmt_run(st->stmt[W_BEGIN]);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(s, 1, now - ttl);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int(s, 2, STORE_IDEM_PRUNE_MAX);
	if (src == SQLITE_OK && (src = stmt_run(s)) == SQLITE_OK)
		n = sqlite3_changes(st->db);
	sqlite3_clear_bindings(s);
	if (src == SQLITE_OK)
		src = stmt_run(st->stmt[W_COMMIT]);
	if (src != SQLITE_OK) {
		orch_warn(STORE_COMPONENT,
		    "%s: pruning expired idempotency keys: %s", st->path,
		    sqlite3_errmsg(st->db));
		if (!sqlite3_get_autocommit(st->db))
			stmt_run(st->stmt[W_ROLLBACK]);
		return;
	}
	/* More left: again after the next batch. */
	if (n >= STORE_IDEM_PRUNE_MAX)
		st->idem_next_prune = now;
	if (n > 0)
		orch_debug(STORE_COMPONENT,
		    "%s: pruned %d expired idempotency keys", st->path, n);
}

static void
op_insert(struct orch_store *st, struct store_op *op)
{
	void *m = NULL;
	orch_task *first;
	int rc;

	if (op->idem_key != NULL) {
		rc = idem_lookup(st, op, "task", unpack_task, &m);
		if (rc == ORCH_OK) {
			first = m;
			if (idem_settle(op,
			        idem_same(first->spec, op->task->spec, NULL,
			            NULL, 0, 0),
			        "task", first->id)) {
				orch_task_free(op->task);
				op->task = first;
				return;
			}
			orch_task_free(first);
			return;
		}
		if (rc != ORCH_ENOENT)
			return;
	}
	if (task_insert(st, op, op->task) != ORCH_OK || op->idem_key == NULL)
		return;
	idem_record(st, op, "task", &op->task->base);
}

/*
 * The read-modify-write of task id with modify: on ORCH_OK *out is the
 * task as written (the commit listeners are told of it).  Fails op
 * otherwise.
 */
static int
task_modify(struct orch_store *st, struct store_op *op, const char *id,
    orch_store_modify_fn modify, void *marg, orch_task **out /* OUT */)
{
	orch_task *t = NULL;
	char msg[STORE_ERR_LEN];
	struct task_cols was;
	sqlite3_stmt *upd;
	void *m = NULL;
	size_t old_len, len;
	int src, rc;

	rc = writer_one(st, op, st->stmt[W_SELECT], id, unpack_task, &m);
	t = m;
	if (rc == ORCH_ENOENT) {
		op_set_err(op, ORCH_ENOENT, "no such task");
		goto out;
	}
	if (rc != ORCH_OK)
		goto out;
	if (t->id == NULL || strcmp(t->id, id) != 0) {
		snprintf(msg, sizeof(msg),
		    "its stored record does not decode "
		    "as this task: the database is corrupt");
		op_set_err(op, ORCH_EIO, msg);
		orch_error(STORE_COMPONENT, "%s: %s", st->path, op->err);
		goto out;
	}
	/* As it was, to tell a change from a write that changes nothing. */
	if (pack_into(&st->old_pack, &st->old_pack_cap, &t->base, &old_len) !=
	    ORCH_OK) {
		op_set_err(op, ORCH_ENOMEM, "out of memory");
		goto out;
	}
	task_cols_of(t, &was);
	op->err[0] = '\0';
	if ((rc = modify(t, marg, op->err, sizeof(op->err))) != ORCH_OK) {
		/* modify's message is already for a person; keep it as is. */
		op->rc = rc;
		if (op->err[0] == '\0')
			op_set_err(op, rc, orch_strerror(rc));
		goto out;
	}
	if (t->id == NULL || strcmp(t->id, id) != 0) {
		op_set_err(op, ORCH_EINVAL, "the change would alter its id");
		goto out;
	}
	if ((upd = upd_stmt(st, &was, t)) == NULL) {
		op_set_err(op, ORCH_ENOMEM, st->werr);
		goto out;
	}
	if ((src = task_write(st, upd, t)) != SQLITE_OK) {
		op_set_db_err(st, op, src);
		goto out;
	}
	if (!op_touch_ok(op, ORCH_STORE_TASK, t->id, t))
		goto out;
	/* task_write() left the new record in st->pack. */
	len = protobuf_c_message_get_packed_size(&t->base);
	if ((int)t->status != was.status) {
		if (event_task(st, op, "task.status", t, was.status) != ORCH_OK)
			goto out;
	} else if ((len != old_len ||
	               memcmp(st->pack, st->old_pack, len) != 0) &&
	    event_task(st, op, "task.updated", t, 0) != ORCH_OK) {
		goto out;
	}
	*out = t;
	t = NULL;
out:
	orch_task_free(t);
	return op->rc;
}

static void
op_modify(struct orch_store *st, struct store_op *op)
{
	task_modify(st, op, op->id, op->modify, op->marg, &op->task);
}

/* The old task first, then the new one: a refusal of modify leaves both
 * unwritten (the savepoint is rolled back). */
static void
op_replace(struct orch_store *st, struct store_op *op)
{
	if (op->id != NULL &&
	    task_modify(st, op, op->id, op->modify, op->marg, &op->old) !=
	        ORCH_OK)
		return;
	task_insert(st, op, op->task);
}

/*
 * Looks up the node registered under reg's name.  Returns ORCH_OK with
 * id, *registered_at and *drain of the stored node, ORCH_ENOENT when
 * there is none, or fails op.
 */
static int
node_find(struct orch_store *st, struct store_op *op, char id[ORCH_ID_LEN],
    int64_t *registered_at /* OUT */, bool *drain /* OUT */)
{
	orch_node *old = NULL;
	void *m = NULL;
	int rc;

	rc = writer_one(
	    st, op, st->stmt[W_NODE_SELECT], op->reg->name, unpack_node, &m);
	old = m;
	if (rc != ORCH_OK)
		return rc;
	if (old->id == NULL || !orch_id_valid(old->id)) {
		op_set_err(op, ORCH_EIO,
		    "its stored record does not decode as "
		    "a node: the database is corrupt");
		orch_error(STORE_COMPONENT, "%s: %s", st->path, op->err);
		orch_node_free(old);
		return ORCH_EIO;
	}
	memcpy(id, old->id, ORCH_ID_LEN);
	*registered_at = old->registered_at_ms;
	*drain = old->has_drain && old->drain;
	orch_node_free(old);
	return ORCH_OK;
}

/*
 * Upserts the node of op->reg by name: a new name gets a new id and
 * registered_at; a known one keeps both, and its drain, and takes
 * everything else from the registration.
 */
static void
op_node_register(struct orch_store *st, struct store_op *op)
{
	const Orch__NodeRegistration *reg = op->reg;
	Orch__Node n = ORCH__NODE__INIT;
	Orch__Node__LabelsEntry *entries = NULL, **labels = NULL;
	sqlite3_stmt *w;
	char id[ORCH_ID_LEN];
	int64_t registered_at = 0;
	bool drain = false;
	size_t len;
	int src, rc;

	rc = node_find(st, op, id, &registered_at, &drain);
	if (rc == ORCH_ENOENT) {
		orch_id_new(id);
		registered_at = orch_now_ms();
		w = st->stmt[W_NODE_INSERT];
	} else if (rc == ORCH_OK) {
		w = st->stmt[W_NODE_UPDATE];
	} else {
		return;
	}
	/* The record points into reg: serializing it is the deep copy. */
	if (reg->n_labels > 0 &&
	    ((entries = calloc(reg->n_labels, sizeof(*entries))) == NULL ||
	        (labels = calloc(reg->n_labels, sizeof(*labels))) == NULL)) {
		op_set_err(op, ORCH_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < reg->n_labels; i++) {
		orch__node__labels_entry__init(&entries[i]);
		entries[i].key = reg->labels[i]->key;
		entries[i].value = reg->labels[i]->value;
		labels[i] = &entries[i];
	}
	n.id = id;
	n.name = reg->name;
	n.address = reg->address;
	n.n_labels = reg->n_labels;
	n.labels = labels;
	n.has_cpu = reg->has_cpu;
	n.cpu = reg->cpu;
	n.has_memory_mb = reg->has_memory_mb;
	n.memory_mb = reg->memory_mb;
	n.n_drivers = reg->n_drivers;
	n.drivers = reg->drivers;
	n.agent_version = reg->agent_version;
	n.has_registered_at_ms = true;
	n.registered_at_ms = registered_at;
	/* A person drained it; an agent restarting must not undo that. */
	n.has_drain = drain;
	n.drain = drain;
	if (msg_pack(st, &n.base, &len) != ORCH_OK) {
		op_set_err(op, ORCH_ENOMEM, "out of memory");
		goto out;
	}
	src = sqlite3_bind_text(w, 1, id, -1, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = sqlite3_bind_text(w, 2, reg->name, -1, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(w, 3, registered_at);
	if (src == SQLITE_OK)
		src = sqlite3_bind_blob64(w, 4, st->pack, len, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = stmt_run(w);
	sqlite3_clear_bindings(w);
	if (src != SQLITE_OK) {
		op_set_db_err(st, op, src);
		goto out;
	}
	if ((op->node = orch__node__unpack(NULL, len, st->pack)) == NULL) {
		op_set_err(op, ORCH_ENOMEM, "out of memory");
		goto out;
	}
	if (op_touch_ok(op, ORCH_STORE_NODE, op->node->id, NULL))
		event_node(st, op, "node.registered", op->node);
out:
	free(labels);
	free(entries);
}

/*
 * Reads the node whose id (or, when by_name, whose name) is op->id.
 * Returns ORCH_OK with *out (a new node with an id and a name), or fails
 * op: ORCH_ENOENT, ORCH_EIO for a record that is not a node's.
 */
static int
node_read(struct orch_store *st, struct store_op *op, bool by_name,
    orch_node **out /* OUT */)
{
	void *m = NULL;
	int rc;

	*out = NULL;
	rc =
	    writer_one(st, op, st->stmt[W_NODE_BY_ID], op->id, unpack_node, &m);
	if (rc == ORCH_ENOENT && by_name)
		rc = writer_one(
		    st, op, st->stmt[W_NODE_SELECT], op->id, unpack_node, &m);
	if (rc == ORCH_ENOENT) {
		op_set_err(op, ORCH_ENOENT,
		    by_name ? "no node with this id or name"
		            : "no node with this id");
		return ORCH_ENOENT;
	}
	if (rc != ORCH_OK)
		return rc;
	if (((orch_node *)m)->id == NULL || ((orch_node *)m)->name == NULL) {
		orch_node_free(m);
		op_set_err(op, ORCH_EIO,
		    "its stored record has no id or name: "
		    "the database is corrupt");
		return ORCH_EIO;
	}
	*out = m;
	return ORCH_OK;
}

static void
op_node_drain(struct orch_store *st, struct store_op *op)
{
	sqlite3_stmt *w = st->stmt[W_NODE_UPDATE];
	orch_node *n = NULL;
	size_t len;
	int src;
	bool was;

	if (node_read(st, op, true, &n) != ORCH_OK)
		return;
	was = n->has_drain && n->drain;
	n->has_drain = op->drain;
	n->drain = op->drain;
	if (msg_pack(st, &n->base, &len) != ORCH_OK) {
		op_set_err(op, ORCH_ENOMEM, "out of memory");
		goto out;
	}
	src = sqlite3_bind_text(w, 1, n->id, -1, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = sqlite3_bind_text(w, 2, n->name, -1, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(w, 3, n->registered_at_ms);
	if (src == SQLITE_OK)
		src = sqlite3_bind_blob64(w, 4, st->pack, len, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = stmt_run(w);
	sqlite3_clear_bindings(w);
	if (src != SQLITE_OK) {
		op_set_db_err(st, op, src);
		goto out;
	}
	if (!op_touch_ok(op, ORCH_STORE_NODE, n->id, NULL) ||
	    (was != op->drain &&
	        event_node(st, op, "node.drain", n) != ORCH_OK))
		goto out;
	op->node = n;
	n = NULL;
out:
	orch_node_free(n);
}

/* An event alone: node op->id turned op->node_status, or its drivers
 * turned (op->driver_turn), in memory. */
static void
op_node_event(struct orch_store *st, struct store_op *op)
{
	orch_node *n = NULL;
	const char *type;

	if (node_read(st, op, false, &n) != ORCH_OK)
		return;
	if (op->driver_turn) {
		type = "node.driver";
		if (orch_node_health_fill(n, op->sick, op->n_sick) != ORCH_OK) {
			op_set_err(op, ORCH_ENOMEM, "out of memory");
			goto out;
		}
	} else {
		type = op->node_status == ORCH__NODE_STATUS__NODE_STATUS_READY
		    ? "node.ready"
		    : "node.down";
		n->has_status = true;
		n->status = (Orch__NodeStatus)op->node_status;
	}
	if (event_node(st, op, type, n) != ORCH_OK)
		goto out;
	op->node = n;
	n = NULL;
out:
	orch_node_free(n);
}

/* Writes svc with s (the INSERT or the UPDATE of services).  Returns a
 * SQLite code. */
static int
service_write(struct orch_store *st, sqlite3_stmt *s, const orch_service *svc)
{
	size_t len;
	int src;

	if (msg_pack(st, &svc->base, &len) != ORCH_OK)
		return SQLITE_NOMEM;
	src = sqlite3_bind_text(s, 1, svc->id, -1, SQLITE_STATIC);
	/* The UPDATE has no ?2 and ?3. */
	if (src == SQLITE_OK && s == st->stmt[W_SERVICE_INSERT]) {
		src = sqlite3_bind_text(s, 2, svc->name, -1, SQLITE_STATIC);
		if (src == SQLITE_OK)
			src = sqlite3_bind_int64(s, 3, svc->created_at_ms);
	}
	if (src == SQLITE_OK)
		src = sqlite3_bind_blob64(s, 4, st->pack, len, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = stmt_run(s);
	sqlite3_clear_bindings(s);
	return src;
}

static void
op_service_create(struct orch_store *st, struct store_op *op)
{
	orch_service *first;
	void *m = NULL;
	int src, rc;

	if (op->idem_key != NULL) {
		rc = idem_lookup(st, op, "service", unpack_service, &m);
		if (rc == ORCH_OK) {
			first = m;
			if (idem_settle(op,
			        idem_same(first->spec, op->svc->spec,
			            first->name != NULL ? first->name : "",
			            op->svc->name, first->replicas,
			            op->svc->replicas),
			        "service", first->id)) {
				orch_service_free(op->svc);
				op->svc = first;
				return;
			}
			orch_service_free(first);
			return;
		}
		if (rc != ORCH_ENOENT)
			return;
	}
	src = service_write(st, st->stmt[W_SERVICE_INSERT], op->svc);
	if (src != SQLITE_OK) {
		if (store_err(src, true) == ORCH_EEXIST) {
			snprintf(st->werr, sizeof(st->werr), "%s",
			    sqlite3_errmsg(st->db));
			op_set_err(op, ORCH_EEXIST,
			    "a service with this name already exists");
		} else {
			op_set_db_err(st, op, src);
		}
		return;
	}
	if (!op_touch_ok(op, ORCH_STORE_SERVICE, op->svc->id, NULL) ||
	    event_service(st, op, "service.created", op->svc) != ORCH_OK ||
	    op->idem_key == NULL)
		return;
	idem_record(st, op, "service", &op->svc->base);
}

static void
op_service_modify(struct orch_store *st, struct store_op *op)
{
	orch_service *svc = NULL;
	char *id = NULL, *name = NULL;
	size_t old_len, len;
	uint32_t old_replicas;
	int src, rc;

	if ((rc = service_find(st, op, op->id, &svc)) == ORCH_ENOENT) {
		op_set_err(op, ORCH_ENOENT, "no service with this name or id");
		return;
	}
	if (rc != ORCH_OK)
		return;
	if ((id = strdup(svc->id)) == NULL ||
	    (name = strdup(svc->name)) == NULL ||
	    pack_into(&st->old_pack, &st->old_pack_cap, &svc->base, &old_len) !=
	        ORCH_OK) {
		op_set_err(op, ORCH_ENOMEM, "out of memory");
		goto out;
	}
	old_replicas = svc->replicas;
	op->err[0] = '\0';
	if ((rc = op->svc_modify(svc, op->marg, op->err, sizeof(op->err))) !=
	    ORCH_OK) {
		op->rc = rc;
		if (op->err[0] == '\0')
			op_set_err(op, rc, orch_strerror(rc));
		goto out;
	}
	if (svc->id == NULL || svc->name == NULL || strcmp(svc->id, id) != 0 ||
	    strcmp(svc->name, name) != 0) {
		op_set_err(op, ORCH_EINVAL,
		    "the change would alter its id or "
		    "name");
		goto out;
	}
	if ((src = service_write(st, st->stmt[W_SERVICE_UPDATE], svc)) !=
	    SQLITE_OK) {
		op_set_db_err(st, op, src);
		goto out;
	}
	if (!op_touch_ok(op, ORCH_STORE_SERVICE, svc->id, NULL))
		goto out;
	/* service_write() left the new record in st->pack. */
	len = protobuf_c_message_get_packed_size(&svc->base);
	if (svc->replicas != old_replicas) {
		if (event_service(st, op, "service.scaled", svc) != ORCH_OK)
			goto out;
	} else if ((len != old_len ||
	               memcmp(st->pack, st->old_pack, len) != 0) &&
	    event_service(st, op, "service.updated", svc) != ORCH_OK) {
		goto out;
	}
	op->svc = svc;
	svc = NULL;
out:
	free(name);
	free(id);
	orch_service_free(svc);
}

/* Reads every task of service id into svc->tasks, touching each. */
static int
service_tasks_read(
    struct orch_store *st, struct store_op *op, orch_service *svc)
{
	sqlite3_stmt *s = st->stmt[W_SERVICE_TASKS];
	orch_task *t;
	int src, rc = ORCH_OK;

	if ((src = sqlite3_bind_text(s, 1, svc->id, -1, SQLITE_STATIC)) !=
	    SQLITE_OK) {
		op_set_db_err(st, op, src);
		rc = op->rc;
		goto out;
	}
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		int n = sqlite3_column_bytes(s, 0);

		if ((svc->n_tasks & (svc->n_tasks - 1)) == 0) {
			size_t cap = svc->n_tasks > 0 ? svc->n_tasks * 2 : 1;
			orch_task **v = realloc(svc->tasks, cap * sizeof(*v));

			if (v == NULL)
				goto nomem;
			svc->tasks = v;
		}
		t = orch__task__unpack(
		    NULL, (size_t)n, sqlite3_column_blob(s, 0));
		if (t == NULL || t->id == NULL) {
			orch_task_free(t);
			op_set_err(op, ORCH_EIO,
			    "a task of it does not decode: "
			    "the database is corrupt");
			rc = ORCH_EIO;
			goto out;
		}
		svc->tasks[svc->n_tasks++] = t;
		/* Deleted with the service: no task to tell of. */
		if (op_touch(op, ORCH_STORE_TASK, t->id, NULL) != ORCH_OK)
			goto nomem;
	}
	if (src != SQLITE_DONE) {
		op_set_db_err(st, op, src);
		rc = op->rc;
	}
	goto out;
nomem:
	op_set_err(op, ORCH_ENOMEM, "out of memory");
	rc = ORCH_ENOMEM;
out:
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

/* Deletes a service and its tasks; the completion gets both. */
static void
op_service_delete(struct orch_store *st, struct store_op *op)
{
	orch_service *svc = NULL;
	sqlite3_stmt *d;
	int src, rc;

	if ((rc = service_find(st, op, op->id, &svc)) == ORCH_ENOENT) {
		op_set_err(op, ORCH_ENOENT, "no service with this name or id");
		return;
	}
	if (rc != ORCH_OK)
		return;
	if (service_tasks_read(st, op, svc) != ORCH_OK)
		goto out;
	d = st->stmt[W_SERVICE_TASKS_DELETE];
	if ((src = sqlite3_bind_text(d, 1, svc->id, -1, SQLITE_STATIC)) ==
	    SQLITE_OK)
		src = stmt_run(d);
	sqlite3_clear_bindings(d);
	if (src == SQLITE_OK) {
		d = st->stmt[W_SERVICE_DELETE];
		if ((src = sqlite3_bind_text(
		         d, 1, svc->id, -1, SQLITE_STATIC)) == SQLITE_OK)
			src = stmt_run(d);
		sqlite3_clear_bindings(d);
	}
	if (src != SQLITE_OK) {
		op_set_db_err(st, op, src);
		goto out;
	}
	for (size_t i = 0; i < svc->n_tasks; i++) {
		if (event_task(st, op, "task.deleted", svc->tasks[i], 0) !=
		    ORCH_OK)
			goto out;
	}
	if (!op_touch_ok(op, ORCH_STORE_SERVICE, svc->id, NULL) ||
	    event_service(st, op, "service.deleted", svc) != ORCH_OK)
		goto out;
	op->svc = svc;
	svc = NULL;
out:
	orch_service_free(svc);
}

/*
 * Runs op in its own savepoint.  Returns ORCH_OK when the transaction is
 * still usable, whether op succeeded or not; else the code of the failure
 * that lost it, with cause describing it for the other ops of the batch.
 */
static int
writer_op(
    struct orch_store *st, struct store_op *op, char *cause, size_t causelen)
{
	uint64_t ev_next = st->ev_next;
	int src;

	if ((src = stmt_run(st->stmt[W_SAVEPOINT])) != SQLITE_OK) {
		op_set_db_err(st, op, src);
		goto lost;
	}
	switch (op->kind) {
	case OP_INSERT: op_insert(st, op); break;
	case OP_MODIFY: op_modify(st, op); break;
	case OP_REPLACE: op_replace(st, op); break;
	case OP_NODE_REGISTER: op_node_register(st, op); break;
	case OP_NODE_DRAIN: op_node_drain(st, op); break;
	case OP_SERVICE_CREATE:
		st->n_svc_seen = 0;
		op_service_create(st, op);
		break;
	case OP_SERVICE_MODIFY:
		st->n_svc_seen = 0;
		op_service_modify(st, op);
		break;
	case OP_SERVICE_DELETE:
		st->n_svc_seen = 0;
		op_service_delete(st, op);
		break;
	case OP_NODE_EVENT: op_node_event(st, op); break;
	}
	if (op->rc == ORCH_OK) {
		if ((src = stmt_run(st->stmt[W_RELEASE])) != SQLITE_OK) {
			op_set_db_err(st, op, src);
			goto lost;
		}
		return ORCH_OK;
	}
	/* Its events are undone with it: their indexes go to the next.  So
	 * may be a service it wrote and then read the replicas of. */
	st->ev_next = ev_next;
	op_events_free(op);
	st->n_svc_seen = 0;
	/* On SQLITE_FULL, IOERR and NOMEM SQLite may roll back the whole
	 * transaction by itself; the savepoint is gone with it. */
	if (sqlite3_get_autocommit(st->db))
		goto lost;
	if ((src = stmt_run(st->stmt[W_ROLLBACK_TO])) != SQLITE_OK ||
	    (src = stmt_run(st->stmt[W_RELEASE])) != SQLITE_OK) {
		/* op keeps its own error; the others cannot be committed. */
		writer_cond(st, src);
		snprintf(cause, causelen,
		    "rolled back with its batch: undoing "
		    "task %.40s failed: %.256s",
		    op_id(op), sqlite3_errmsg(st->db));
		return store_err(src, true);
	}
	return ORCH_OK;
lost:
	snprintf(cause, causelen,
	    "rolled back with its batch when %s task %.40s failed: %s",
	    op_verb(op), op_id(op), st->werr);
	return op->rc;
}

/* Calls op's completion and frees op. */
static void
op_complete(struct store_op *op)
{
	orch_task *t = op->task;
	const char *err = op->rc != ORCH_OK ? op->err : NULL;

	switch (op->kind) {
	case OP_NODE_EVENT:
		if (op->rc != ORCH_OK)
			orch_debug(STORE_COMPONENT, "%s", op->err);
		orch_node_free(op->node);
		break;
	case OP_NODE_REGISTER:
	case OP_NODE_DRAIN: {
		orch_node *n = op->rc == ORCH_OK ? op->node : NULL;

		if (n != op->node)
			orch_node_free(op->node);
		if (op->node_done != NULL)
			op->node_done(op->arg, op->rc, n, err);
		else
			orch_node_free(n);
		break;
	}
	case OP_SERVICE_CREATE:
	case OP_SERVICE_MODIFY:
	case OP_SERVICE_DELETE: {
		orch_service *svc = op->rc == ORCH_OK ? op->svc : NULL;

		/* A create's service is the store's in every case. */
		if (svc != op->svc)
			orch_service_free(op->svc);
		if (op->svc_done != NULL)
			op->svc_done(op->arg, op->rc, svc, err);
		else
			orch_service_free(svc);
		break;
	}
	default:
		if (op->rc != ORCH_OK) {
			/* The store took the task of an insert in every
			 * case. */
			orch_task_free(t);
			t = NULL;
		}
		if (op->done != NULL)
			op->done(op->arg, op->rc, t, err);
		else
			orch_task_free(t);
		break;
	}
	orch_task_free(op->old);
	op_events_free(op);
	free(op->touched);
	free(op->idem_key);
	free(op->sick);
	free(op->id);
	free(op);
}

/*
 * Records whether the disk took the writer's last transaction (cond
 * COND_NONE) or refused it for cond (cause: what failed; n: the writes
 * refused with it).  Logs when writes start and stop being refused, not
 * each refusal: under a full disk every client's retry would otherwise
 * be a line in a log that may well sit on the same disk.
 */
static void
cond_update(
    struct orch_store *st, enum store_cond cond, const char *cause, uint64_t n)
{
	enum store_cond was;
	int64_t since;
	uint64_t refused;

	/* The common case, every commit: nothing to change. */
	if (cond == COND_NONE && !st->wrefused)
		return;
	pthread_mutex_lock(&st->mu);
	was = st->cond;
	since = st->cond_since_ms;
	refused = st->cond_refused;
	if (cond == COND_NONE) {
		st->cond = COND_NONE;
		st->cond_refused = 0;
		st->cond_msg[0] = '\0';
	} else {
		if (was != cond) {
			st->cond = cond;
			st->cond_since_ms = orch_now_ms();
			st->cond_refused = 0;
		}
		st->cond_refused += n;
		snprintf(st->cond_msg, sizeof(st->cond_msg), "%s: %.200s; %s",
		    cond_head[cond], cause, cond_tail[cond]);
	}
	pthread_mutex_unlock(&st->mu);
	st->wrefused = cond != COND_NONE;
	if (cond == COND_NONE && was != COND_NONE)
		orch_info(STORE_COMPONENT,
		    "%s: writes succeed again, after %.1f s in which %llu "
		    "were refused (%s)",
		    st->path, (double)(orch_now_ms() - since) / 1000.0,
		    (unsigned long long)refused, cond_head[was]);
	else if (cond != COND_NONE && was != cond)
		orch_error(STORE_COMPONENT, "%s: %s: %s; %s", st->path,
		    cond_head[cond], cause, cond_tail[cond]);
}

/*
 * While writes are refused and none comes, the writer tries one of its
 * own: it rewrites the schema version with the same value, which costs a
 * page in the WAL like any write, and so passes exactly when the disk
 * takes writes again.  A success ends the refusal (cond_update).
 */
static void
writer_probe(struct orch_store *st)
{
	char sql[64], cause[STORE_ERR_LEN];
	int src;

	st->wcond = COND_NONE;
	if (!sqlite3_get_autocommit(st->db))
		stmt_run(st->stmt[W_ROLLBACK]);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", N_MIGRATIONS);
	if ((src = stmt_run(st->stmt[W_BEGIN])) == SQLITE_OK &&
	    (src = sqlite3_exec(st->db, sql, NULL, NULL, NULL)) == SQLITE_OK &&
	    (src = stmt_run(st->stmt[W_COMMIT])) == SQLITE_OK) {
		cond_update(st, COND_NONE, NULL, 0);
		return;
	}
	writer_cond(st, src);
	snprintf(cause, sizeof(cause), "%s", sqlite3_errmsg(st->db));
	if (!sqlite3_get_autocommit(st->db))
		stmt_run(st->stmt[W_ROLLBACK]);
	if (st->wcond != COND_NONE)
		cond_update(st, st->wcond, cause, 0);
	else
		orch_warn(
		    STORE_COMPONENT, "%s: trying a write: %s", st->path, cause);
}

/* Runs the n ops of batch in one transaction, then completes them. */
static void
writer_batch(struct orch_store *st, struct store_op *batch, size_t n)
{
	struct store_op *op, *next;
	char cause[STORE_ERR_LEN];
	uint64_t failed = 0, refused = 0, ev_start = st->ev_next;
	int64_t t0 = orch_mono_ns(), took = 0;
	bool committed = false;
	int src, lost = ORCH_OK;

	st->wcond = COND_NONE;
	st->n_svc_seen = 0;
	/* A ROLLBACK that failed earlier may have left a transaction open,
	 * and BEGIN would then fail forever. */
	if (!sqlite3_get_autocommit(st->db))
		stmt_run(st->stmt[W_ROLLBACK]);
	if ((src = stmt_run(st->stmt[W_BEGIN])) != SQLITE_OK) {
		lost = store_err(src, true);
		writer_cond(st, src);
		snprintf(cause, sizeof(cause), "starting a transaction: %s",
		    sqlite3_errmsg(st->db));
		goto rollback;
	}
	for (op = batch; op != NULL && lost == ORCH_OK; op = op->next)
		lost = writer_op(st, op, cause, sizeof(cause));
	if (lost != ORCH_OK)
		goto rollback;
	/* In the same transaction: the table never holds more than it
	 * should, and a failed prune loses nothing but this batch. */
	if (st->ev_next != ev_start && (src = events_prune(st)) != SQLITE_OK) {
		lost = store_err(src, true);
		writer_cond(st, src);
		snprintf(cause, sizeof(cause), "pruning old events: %s",
		    sqlite3_errmsg(st->db));
		goto rollback;
	}
	if ((src = stmt_run(st->stmt[W_COMMIT])) == SQLITE_OK) {
		committed = true;
		took = orch_mono_ns() - t0;
		goto complete;
	}
	lost = store_err(src, true);
	writer_cond(st, src);
	snprintf(
	    cause, sizeof(cause), "committing: %s", sqlite3_errmsg(st->db));

rollback:
	/* After SQLITE_FULL or an I/O error SQLite has most often rolled
	 * back already; the WAL keeps only what was committed. */
	if (!sqlite3_get_autocommit(st->db) &&
	    (src = stmt_run(st->stmt[W_ROLLBACK])) != SQLITE_OK)
		orch_error(STORE_COMPONENT,
		    "%s: rolling back a failed batch: %s", st->path,
		    sqlite3_errmsg(st->db));
	/* A refusing disk is logged when it starts and ends (cond_update),
	 * not once a batch. */
	if (st->wcond == COND_NONE)
		orch_warn(STORE_COMPONENT,
		    "%s: a batch of %zu writes failed: %s", st->path, n, cause);
	else
		orch_debug(STORE_COMPONENT,
		    "%s: a batch of %zu writes refused: %s", st->path, n,
		    cause);
	/* Nothing of the batch stays: its events' indexes go to the next
	 * batch, and the replica counts it read may have been its own
	 * writes. */
	st->ev_next = ev_start;
	st->n_svc_seen = 0;
	/* Those that succeeded or never ran are undone too; those that failed
	 * keep their own, more precise, error. */
	for (op = batch; op != NULL; op = op->next) {
		if (op->rc != ORCH_OK)
			continue;
		if (st->wcond != COND_NONE)
			op_set_cond_err(op, st->wcond, cause);
		else
			op_set_err(op, lost, cause);
	}

complete:
	pthread_mutex_lock(&st->lmu);
	for (op = batch; op != NULL; op = op->next) {
		if (op->rc != ORCH_OK) {
			failed++;
			refused += op->rc == ORCH_ENOSPC;
			continue;
		}
		/* Before any acknowledgement, so that a reader who hears of the
		 * write has already been told the task changed; under lmu, so
		 * that orch_store_unlisten() returning means no call is
		 * running. */
		for (int i = 0; i < st->n_listeners; i++) {
			const struct listener *l = &st->listeners[i];

			for (size_t k = 0;
			     l->commit != NULL && k < op->n_touched; k++)
				l->commit(l->arg, op->touched[k].kind,
				    op->touched[k].id, op->touched[k].task);
		}
		for (size_t k = 0; k < op->n_events; k++) {
			struct op_event *oe = &op->events[k];

			oe->ev.object_id = oe->object_id;
			oe->ev.data = oe->data;
			for (int i = 0; i < st->n_listeners; i++) {
				const struct listener *l = &st->listeners[i];

				if (l->event != NULL)
					l->event(l->arg, &oe->ev);
			}
		}
	}
	pthread_mutex_unlock(&st->lmu);
	pthread_mutex_lock(&st->mu);
	st->stats.writes += n;
	st->stats.failed += failed;
	st->stats.refused += refused;
	if (committed)
		st->stats.commits++;
	pthread_mutex_unlock(&st->mu);
	if (committed)
		cond_update(st, COND_NONE, NULL, 0);
	else if (st->wcond != COND_NONE)
		cond_update(st, st->wcond, cause, n);
	if (committed && st->opts.on_commit != NULL)
		st->opts.on_commit(st->opts.on_commit_arg, took, n);
	/* Only now is anything durable: acknowledge in queue order. */
	for (op = batch; op != NULL; op = next) {
		next = op->next;
		op_complete(op);
	}
}

/*
 * Group commit's delay (PostgreSQL's commit_delay): when the last batch
 * held several writers, those just answered are likely to send their next
 * write within microseconds.  Waiting a little for them lets one fsync
 * carry them all, instead of the writers splitting into two groups that
 * take turns.  A lone writer (n_last <= 1) never waits.  Called with mu.
 */
static void
group_wait(struct orch_store *st, size_t n_last)
{
	struct timespec until;

	if (n_last <= 1 || st->n_queued >= n_last || st->closing ||
	    st->opts.group_wait_us == 0)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)st->opts.group_wait_us * 1000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	st->want = n_last;
	while (st->n_queued < n_last && !st->closing) {
		if (pthread_cond_timedwait(&st->cv, &st->mu, &until) != 0)
			break;
	}
	st->want = 1;
}

static void *
writer_main(void *arg)
{
	struct orch_store *st = arg;
	struct store_op *batch, *last;
	size_t n, n_last = 0;

	/* Named for top -H and perf. */
	pthread_setname_np(pthread_self(), "orch-store-wr");

	for (;;) {
		pthread_mutex_lock(&st->mu);
		while (st->head == NULL && !st->closing) {
			struct timespec until;

			if (st->cond == COND_NONE) {
				pthread_cond_wait(&st->cv, &st->mu);
				continue;
			}
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += STORE_PROBE_MS / 1000;
			until.tv_nsec +=
			    (long)(STORE_PROBE_MS % 1000) * 1000000L;
			until.tv_sec += until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			if (pthread_cond_timedwait(&st->cv, &st->mu, &until) !=
			        0 &&
			    st->head == NULL && !st->closing) {
				pthread_mutex_unlock(&st->mu);
				writer_probe(st);
				pthread_mutex_lock(&st->mu);
			}
		}
		if (st->head == NULL) {
			/* Closing and drained. */
			pthread_mutex_unlock(&st->mu);
			break;
		}
		group_wait(st, n_last);
		batch = last = st->head;
		for (n = 1; last->next != NULL && n < st->opts.max_batch; n++)
			last = last->next;
		st->head = last->next;
		if (st->head == NULL)
			st->tail = NULL;
		last->next = NULL;
		st->n_queued -= n;
		pthread_mutex_unlock(&st->mu);
		writer_batch(st, batch, n);
		idem_prune(st);
		n_last = n;
	}
	return NULL;
}

/* Queues op, or completes it with ORCH_EUNAVAIL once closing has begun. */
static void
store_enqueue(struct orch_store *st, struct store_op *op)
{
	pthread_mutex_lock(&st->mu);
	if (st->closing) {
		pthread_mutex_unlock(&st->mu);
		op_set_err(op, ORCH_EUNAVAIL, "the store is closing");
		op_complete(op);
		return;
	}
	if (st->tail != NULL)
		st->tail->next = op;
	else
		st->head = op;
	st->tail = op;
	st->n_queued++;
	/* Wake the writer only when what it waits for is there. */
	if (st->n_queued >= st->want)
		pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

/* ---- open and close ---- */

void
orch_store_opts_default(struct orch_store_opts *opts)
{
	opts->sync_full = true;
	opts->max_batch = STORE_MAX_BATCH;
	opts->group_wait_us = 500;
	opts->events_keep = ORCH_STORE_EVENTS_KEEP;
	opts->on_commit = NULL;
	opts->on_commit_arg = NULL;
	opts->idem_ttl_ms = ORCH_IDEM_TTL_MS_DEFAULT;
}

/* Releases what store_db_open and orch_store_open acquired, in reverse. */
static void
store_free(struct orch_store *st)
{
	int src;

	stmts_finalize(st->stmt, W_COUNT);
	stmts_finalize(st->upd, UPD_STMTS);
	if (st->db != NULL && (src = sqlite3_close(st->db)) != SQLITE_OK)
		orch_error(STORE_COMPONENT, "closing %s: %s", st->path,
		    sqlite3_errstr(src));
	if (st->sync_init) {
		pthread_cond_destroy(&st->cv);
		pthread_mutex_destroy(&st->mu);
		pthread_mutex_destroy(&st->lmu);
	}
	free(st->pack);
	free(st->old_pack);
	free(st->ev_pack);
	free(st->path);
	free(st);
}

int
orch_store_open(const char *dir, const struct orch_store_opts *opts,
    struct orch_store **out)
{
	struct orch_store *st;
	size_t len;
	int rc = ORCH_OK;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return ORCH_ENOMEM;
	if (opts != NULL)
		st->opts = *opts;
	else
		orch_store_opts_default(&st->opts);
	if (st->opts.max_batch == 0)
		st->opts.max_batch = STORE_MAX_BATCH;
	if (st->opts.events_keep == 0)
		st->opts.events_keep = ORCH_STORE_EVENTS_KEEP;
	len = strlen(dir) + sizeof("/" STORE_DB_NAME);
	if ((st->path = malloc(len)) == NULL) {
		rc = ORCH_ENOMEM;
		goto out;
	}
	snprintf(st->path, len, "%s/%s", dir, STORE_DB_NAME);
	if (pthread_mutex_init(&st->mu, NULL) != 0) {
		rc = ORCH_ENOMEM;
		goto out;
	}
	if (pthread_cond_init(&st->cv, NULL) != 0) {
		pthread_mutex_destroy(&st->mu);
		rc = ORCH_ENOMEM;
		goto out;
	}
	if (pthread_mutex_init(&st->lmu, NULL) != 0) {
		pthread_cond_destroy(&st->cv);
		pthread_mutex_destroy(&st->mu);
		rc = ORCH_ENOMEM;
		goto out;
	}
	st->sync_init = true;
	st->want = 1;
	if ((rc = store_db_open(st)) != ORCH_OK)
		goto out;
	if (pthread_create(&st->writer, NULL, writer_main, st) != 0) {
		orch_error(STORE_COMPONENT,
		    "opening %s: cannot start the writer thread", st->path);
		rc = ORCH_ENOMEM;
		goto out;
	}
	st->writer_running = true;
	*out = st;
out:
	if (rc != ORCH_OK)
		store_free(st);
	return rc;
}

void
orch_store_close(struct orch_store *st)
{
	int readers;

	if (st == NULL)
		return;
	pthread_mutex_lock(&st->mu);
	st->closing = true;
	readers = st->n_readers;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
	if (readers != 0)
		orch_error(STORE_COMPONENT,
		    "%s: closed with %d readers still open "
		    "(a bug in the caller)",
		    st->path, readers);
	/* The writer drains the queue before it returns. */
	if (st->writer_running)
		pthread_join(st->writer, NULL);
	orch_info(STORE_COMPONENT,
	    "%s: closed after %llu writes (%llu failed) "
	    "in %llu commits",
	    st->path, (unsigned long long)st->stats.writes,
	    (unsigned long long)st->stats.failed,
	    (unsigned long long)st->stats.commits);
	store_free(st);
}

/* Adds l.  Returns ORCH_OK or ORCH_ETOOBIG. */
static int
listener_add(struct orch_store *st, struct listener l)
{
	int rc = ORCH_OK;

	pthread_mutex_lock(&st->lmu);
	if (st->n_listeners >= STORE_MAX_LISTENERS)
		rc = ORCH_ETOOBIG;
	else
		st->listeners[st->n_listeners++] = l;
	pthread_mutex_unlock(&st->lmu);
	return rc;
}

static void
listener_remove(struct orch_store *st, struct listener l)
{
	pthread_mutex_lock(&st->lmu);
	for (int i = 0; i < st->n_listeners; i++) {
		const struct listener *o = &st->listeners[i];

		if (o->commit == l.commit && o->event == l.event &&
		    o->arg == l.arg) {
			st->listeners[i] = st->listeners[--st->n_listeners];
			break;
		}
	}
	pthread_mutex_unlock(&st->lmu);
}

int
orch_store_listen(struct orch_store *st, orch_store_commit_fn fn, void *arg)
{
	return listener_add(st, (struct listener){.commit = fn, .arg = arg});
}

void
orch_store_unlisten(struct orch_store *st, orch_store_commit_fn fn, void *arg)
{
	listener_remove(st, (struct listener){.commit = fn, .arg = arg});
}

int
orch_store_events_listen(
    struct orch_store *st, orch_store_event_fn fn, void *arg)
{
	return listener_add(st, (struct listener){.event = fn, .arg = arg});
}

void
orch_store_events_unlisten(
    struct orch_store *st, orch_store_event_fn fn, void *arg)
{
	listener_remove(st, (struct listener){.event = fn, .arg = arg});
}

void
orch_store_stats(struct orch_store *st, struct orch_store_stats *out)
{
	pthread_mutex_lock(&st->mu);
	*out = st->stats;
	pthread_mutex_unlock(&st->mu);
}

void
orch_store_health(struct orch_store *st, struct orch_store_health *out)
{
	pthread_mutex_lock(&st->mu);
	out->writable = st->cond == COND_NONE;
	out->since_ms = out->writable ? 0 : st->cond_since_ms;
	out->refused = out->writable ? 0 : st->cond_refused;
	snprintf(out->why, sizeof(out->why), "%s", st->cond_msg);
	pthread_mutex_unlock(&st->mu);
}

/* ---- writes ---- */

static struct store_op *
op_new(enum op_kind kind, orch_store_done_fn done, void *arg)
{
	struct store_op *op = calloc(1, sizeof(*op));

	if (op != NULL) {
		op->kind = kind;
		op->done = done;
		op->arg = arg;
	}
	return op;
}

/* Gives op the idempotency key of idem (none when idem or its key is
 * NULL).  Returns false, having failed op, when the key is refused or
 * cannot be copied. */
static bool
op_idem_set(struct store_op *op, struct orch_store_idem *idem)
{
	char msg[160];

	if (idem == NULL || idem->key == NULL)
		return true;
	idem->replayed = false;
	idem->mismatch = false;
	if (orch_idem_key_check(
	        idem->key, strlen(idem->key), msg, sizeof(msg)) != ORCH_OK) {
		op->rc = ORCH_EINVAL;
		snprintf(op->err, sizeof(op->err), "%s", msg);
		return false;
	}
	if ((op->idem_key = strdup(idem->key)) == NULL) {
		op->rc = ORCH_ENOMEM;
		snprintf(op->err, sizeof(op->err), "out of memory");
		return false;
	}
	op->idem = idem;
	return true;
}

void
orch_store_task_insert(
    struct orch_store *st, orch_task *task, orch_store_done_fn done, void *arg)
{
	orch_store_task_insert_idem(st, task, NULL, done, arg);
}

void
orch_store_task_insert_idem(struct orch_store *st, orch_task *task,
    struct orch_store_idem *idem, orch_store_done_fn done, void *arg)
{
	struct store_op *op = op_new(OP_INSERT, done, arg);

	if (op == NULL) {
		orch_task_free(task);
		if (done != NULL)
			done(arg, ORCH_ENOMEM, NULL,
			    "inserting a task: out of memory");
		return;
	}
	op->task = task;
	if (task == NULL || task->id == NULL || task->id[0] == '\0') {
		op_set_err(op, ORCH_EINVAL, "a task needs an id");
		op_complete(op);
		return;
	}
	if (!op_idem_set(op, idem)) {
		op_complete(op);
		return;
	}
	store_enqueue(st, op);
}

void
orch_store_task_modify(struct orch_store *st, const char *id,
    orch_store_modify_fn modify, void *marg, orch_store_done_fn done, void *arg)
{
	struct store_op *op = op_new(OP_MODIFY, done, arg);

	if (op == NULL || (id != NULL && (op->id = strdup(id)) == NULL)) {
		free(op);
		if (done != NULL)
			done(arg, ORCH_ENOMEM, NULL,
			    "modifying a task: out of memory");
		return;
	}
	op->modify = modify;
	op->marg = marg;
	if (id == NULL || modify == NULL) {
		op_set_err(op, ORCH_EINVAL, "an id and a change are required");
		op_complete(op);
		return;
	}
	store_enqueue(st, op);
}

void
orch_store_node_register(struct orch_store *st,
    const Orch__NodeRegistration *reg, orch_store_node_done_fn done, void *arg)
{
	struct store_op *op = op_new(OP_NODE_REGISTER, NULL, arg);

	if (op == NULL) {
		if (done != NULL)
			done(arg, ORCH_ENOMEM, NULL,
			    "registering a node: out of memory");
		return;
	}
	op->reg = reg;
	op->node_done = done;
	if (reg == NULL || reg->name == NULL || reg->name[0] == '\0') {
		op_set_err(op, ORCH_EINVAL, "a node needs a name");
		op_complete(op);
		return;
	}
	store_enqueue(st, op);
}

void
orch_store_task_replace(struct orch_store *st, const char *old_id,
    orch_store_modify_fn modify, void *marg, orch_task *new_task,
    orch_store_done_fn done, void *arg)
{
	struct store_op *op = op_new(OP_REPLACE, done, arg);

	if (op == NULL ||
	    (old_id != NULL && (op->id = strdup(old_id)) == NULL)) {
		free(op);
		orch_task_free(new_task);
		if (done != NULL)
			done(arg, ORCH_ENOMEM, NULL,
			    "replacing a task: out of memory");
		return;
	}
	op->task = new_task;
	op->modify = modify;
	op->marg = marg;
	if (new_task == NULL || new_task->id == NULL ||
	    new_task->id[0] == '\0' || (old_id != NULL && modify == NULL)) {
		op_set_err(op, ORCH_EINVAL,
		    "a new task with an id, and a "
		    "change of the old one, are required");
		op_complete(op);
		return;
	}
	store_enqueue(st, op);
}

void
orch_store_node_drain(struct orch_store *st, const char *key, bool drain,
    orch_store_node_done_fn done, void *arg)
{
	struct store_op *op = op_new(OP_NODE_DRAIN, NULL, arg);

	if (op == NULL || (key != NULL && (op->id = strdup(key)) == NULL)) {
		free(op);
		if (done != NULL)
			done(arg, ORCH_ENOMEM, NULL,
			    "draining a node: out of memory");
		return;
	}
	op->node_done = done;
	op->drain = drain;
	if (key == NULL || key[0] == '\0') {
		op_set_err(op, ORCH_EINVAL, "a node id or name is required");
		op_complete(op);
		return;
	}
	store_enqueue(st, op);
}

void
orch_store_node_event(struct orch_store *st, const char *id, int status)
{
	struct store_op *op = op_new(OP_NODE_EVENT, NULL, NULL);

	if (op == NULL || id == NULL || (op->id = strdup(id)) == NULL) {
		orch_warn(STORE_COMPONENT,
		    "cannot record an event of node %.40s: out of memory",
		    id != NULL ? id : "(null)");
		free(op);
		return;
	}
	op->node_status = status;
	store_enqueue(st, op);
}

void
orch_store_node_driver_event(struct orch_store *st, const char *id,
    const struct orch_driver_health *sick, size_t n_sick)
{
	struct store_op *op = op_new(OP_NODE_EVENT, NULL, NULL);

	if (op == NULL || id == NULL || (op->id = strdup(id)) == NULL ||
	    (n_sick > 0 &&
	        (op->sick = malloc(n_sick * sizeof(*sick))) == NULL)) {
		orch_warn(STORE_COMPONENT,
		    "cannot record an event of node %.40s's drivers: out of "
		    "memory",
		    id != NULL ? id : "(null)");
		if (op != NULL)
			free(op->id);
		free(op);
		return;
	}
	if (n_sick > 0)
		memcpy(op->sick, sick, n_sick * sizeof(*sick));
	op->n_sick = n_sick;
	op->driver_turn = true;
	store_enqueue(st, op);
}

/* A new service op on key (may be NULL for a create). */
static struct store_op *
svc_op_new(enum op_kind kind, const char *key, orch_store_service_done_fn done,
    void *arg)
{
	struct store_op *op = op_new(kind, NULL, arg);

	if (op == NULL || (key != NULL && (op->id = strdup(key)) == NULL)) {
		free(op);
		if (done != NULL)
			done(arg, ORCH_ENOMEM, NULL,
			    "writing a service: out of memory");
		return NULL;
	}
	op->svc_done = done;
	return op;
}

void
orch_store_service_create(struct orch_store *st, orch_service *svc,
    orch_store_service_done_fn done, void *arg)
{
	orch_store_service_create_idem(st, svc, NULL, done, arg);
}

void
orch_store_service_create_idem(struct orch_store *st, orch_service *svc,
    struct orch_store_idem *idem, orch_store_service_done_fn done, void *arg)
{
	struct store_op *op = svc_op_new(OP_SERVICE_CREATE, NULL, done, arg);

	if (op == NULL) {
		orch_service_free(svc);
		return;
	}
	op->svc = svc;
	if (svc == NULL || svc->id == NULL || svc->name == NULL) {
		op_set_err(op, ORCH_EINVAL, "a service needs an id and a name");
		op_complete(op);
		return;
	}
	if (!op_idem_set(op, idem)) {
		op_complete(op);
		return;
	}
	store_enqueue(st, op);
}

void
orch_store_service_modify(struct orch_store *st, const char *key,
    orch_store_service_modify_fn modify, void *marg,
    orch_store_service_done_fn done, void *arg)
{
	struct store_op *op = svc_op_new(OP_SERVICE_MODIFY, key, done, arg);

	if (op == NULL)
		return;
	op->svc_modify = modify;
	op->marg = marg;
	if (key == NULL || key[0] == '\0' || modify == NULL) {
		op_set_err(op, ORCH_EINVAL, "a name and a change are required");
		op_complete(op);
		return;
	}
	store_enqueue(st, op);
}

void
orch_store_service_delete(struct orch_store *st, const char *key,
    orch_store_service_done_fn done, void *arg)
{
	struct store_op *op = svc_op_new(OP_SERVICE_DELETE, key, done, arg);

	if (op == NULL)
		return;
	if (key == NULL || key[0] == '\0') {
		op_set_err(op, ORCH_EINVAL, "a name is required");
		op_complete(op);
		return;
	}
	store_enqueue(st, op);
}

/* What a blocking caller waits on, on its own stack. */
struct sync_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int rc;
	orch_task *task;
	orch_node *node;
	orch_service *svc;
	char *err;
	size_t errlen;
};

/* Records the outcome, wakes the waiter and releases w->mu, which the
 * completion took to store its object in w. */
static void
sync_finish(struct sync_wait *w, int rc, const char *err)
{
	w->rc = rc;
	if (rc != ORCH_OK && w->err != NULL && w->errlen > 0)
		snprintf(w->err, w->errlen, "%s", err);
	w->done = true;
	/* Signalled under the lock: once the waiter sees done, this thread no
	 * longer touches w, which lives on the waiter's stack. */
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void
sync_done(void *arg, int rc, orch_task *task, const char *err)
{
	struct sync_wait *w = arg;

	pthread_mutex_lock(&w->mu);
	w->task = task;
	sync_finish(w, rc, err);
}

static void
sync_node_done(void *arg, int rc, orch_node *node, const char *err)
{
	struct sync_wait *w = arg;

	pthread_mutex_lock(&w->mu);
	w->node = node;
	sync_finish(w, rc, err);
}

static void
sync_service_done(void *arg, int rc, orch_service *svc, const char *err)
{
	struct sync_wait *w = arg;

	pthread_mutex_lock(&w->mu);
	w->svc = svc;
	sync_finish(w, rc, err);
}

static void
sync_init(struct sync_wait *w, char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->err = err;
	w->errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
}

/* Waits for the completion and hands its task to out (or frees it). */
static int
sync_wait_done(struct sync_wait *w, orch_task **out)
{
	pthread_mutex_lock(&w->mu);
	while (!w->done)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	if (out != NULL)
		*out = w->task;
	else
		orch_task_free(w->task);
	return w->rc;
}

/* True on the writer thread, where waiting for a write would deadlock. */
static bool
on_writer(struct orch_store *st, char *err, size_t errlen)
{
	if (!st->writer_running || !pthread_equal(pthread_self(), st->writer))
		return false;
	if (err != NULL && errlen > 0)
		snprintf(err, errlen,
		    "a blocking store write was called from a "
		    "store completion, where it would wait for itself");
	return true;
}

int
orch_store_task_insert_sync(struct orch_store *st, orch_task *task,
    orch_task **out, char *err, size_t errlen)
{
	return orch_store_task_insert_idem_sync(
	    st, task, NULL, out, err, errlen);
}

int
orch_store_task_insert_idem_sync(struct orch_store *st, orch_task *task,
    struct orch_store_idem *idem, orch_task **out, char *err, size_t errlen)
{
	struct sync_wait w;

	if (out != NULL)
		*out = NULL;
	if (on_writer(st, err, errlen)) {
		orch_task_free(task);
		return ORCH_EINTERNAL;
	}
	sync_init(&w, err, errlen);
	orch_store_task_insert_idem(st, task, idem, sync_done, &w);
	return sync_wait_done(&w, out);
}

int
orch_store_task_modify_sync(struct orch_store *st, const char *id,
    orch_store_modify_fn modify, void *marg, orch_task **out, char *err,
    size_t errlen)
{
	struct sync_wait w;

	if (out != NULL)
		*out = NULL;
	if (on_writer(st, err, errlen))
		return ORCH_EINTERNAL;
	sync_init(&w, err, errlen);
	orch_store_task_modify(st, id, modify, marg, sync_done, &w);
	return sync_wait_done(&w, out);
}

int
orch_store_node_register_sync(struct orch_store *st,
    const Orch__NodeRegistration *reg, orch_node **out, char *err,
    size_t errlen)
{
	struct sync_wait w;

	if (out != NULL)
		*out = NULL;
	if (on_writer(st, err, errlen))
		return ORCH_EINTERNAL;
	sync_init(&w, err, errlen);
	orch_store_node_register(st, reg, sync_node_done, &w);
	/* Waits as for a task, then hands over the node instead. */
	sync_wait_done(&w, NULL);
	if (out != NULL)
		*out = w.node;
	else
		orch_node_free(w.node);
	return w.rc;
}

int
orch_store_node_drain_sync(struct orch_store *st, const char *key, bool drain,
    orch_node **out, char *err, size_t errlen)
{
	struct sync_wait w;

	if (out != NULL)
		*out = NULL;
	if (on_writer(st, err, errlen))
		return ORCH_EINTERNAL;
	sync_init(&w, err, errlen);
	orch_store_node_drain(st, key, drain, sync_node_done, &w);
	sync_wait_done(&w, NULL);
	if (out != NULL)
		*out = w.node;
	else
		orch_node_free(w.node);
	return w.rc;
}

/* Waits for a service op's completion and hands its service to out. */
static int
sync_service_wait(struct sync_wait *w, orch_service **out)
{
	sync_wait_done(w, NULL);
	if (out != NULL)
		*out = w->svc;
	else
		orch_service_free(w->svc);
	return w->rc;
}

int
orch_store_service_create_sync(struct orch_store *st, orch_service *svc,
    orch_service **out, char *err, size_t errlen)
{
	return orch_store_service_create_idem_sync(
	    st, svc, NULL, out, err, errlen);
}

int
orch_store_service_create_idem_sync(struct orch_store *st, orch_service *svc,
    struct orch_store_idem *idem, orch_service **out, char *err, size_t errlen)
{
	struct sync_wait w;

	if (out != NULL)
		*out = NULL;
	if (on_writer(st, err, errlen)) {
		orch_service_free(svc);
		return ORCH_EINTERNAL;
	}
	sync_init(&w, err, errlen);
	orch_store_service_create_idem(st, svc, idem, sync_service_done, &w);
	return sync_service_wait(&w, out);
}

int
orch_store_service_modify_sync(struct orch_store *st, const char *key,
    orch_store_service_modify_fn modify, void *marg, orch_service **out,
    char *err, size_t errlen)
{
	struct sync_wait w;

	if (out != NULL)
		*out = NULL;
	if (on_writer(st, err, errlen))
		return ORCH_EINTERNAL;
	sync_init(&w, err, errlen);
	orch_store_service_modify(st, key, modify, marg, sync_service_done, &w);
	return sync_service_wait(&w, out);
}

int
orch_store_service_delete_sync(struct orch_store *st, const char *key,
    orch_service **out, char *err, size_t errlen)
{
	struct sync_wait w;

	if (out != NULL)
		*out = NULL;
	if (on_writer(st, err, errlen))
		return ORCH_EINTERNAL;
	sync_init(&w, err, errlen);
	orch_store_service_delete(st, key, sync_service_done, &w);
	return sync_service_wait(&w, out);
}

/* ---- reads ---- */

void
orch_store_reader_free(struct orch_store_reader *r)
{
	if (r == NULL)
		return;
	stmts_finalize(r->stmt, R_COUNT);
	sqlite3_close(r->db);
	pthread_mutex_lock(&r->st->mu);
	r->st->n_readers--;
	pthread_mutex_unlock(&r->st->mu);
	free(r);
}

int
orch_store_reader_new(struct orch_store *st, struct orch_store_reader **out)
{
	struct orch_store_reader *r = NULL;
	int src, rc = ORCH_OK;

	*out = NULL;
	pthread_mutex_lock(&st->mu);
	if (st->closing) {
		pthread_mutex_unlock(&st->mu);
		return ORCH_EUNAVAIL;
	}
	st->n_readers++;
	pthread_mutex_unlock(&st->mu);
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		pthread_mutex_lock(&st->mu);
		st->n_readers--;
		pthread_mutex_unlock(&st->mu);
		return ORCH_ENOMEM;
	}
	r->st = st;
	/* Read-only is enough and safe: the writer connection created the
	 * database and its WAL before any reader can exist. */
	src = sqlite3_open_v2(
	    st->path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (src == SQLITE_OK) {
		sqlite3_extended_result_codes(r->db, 1);
		sqlite3_busy_timeout(r->db, STORE_BUSY_MS);
		src =
		    sqlite3_exec(r->db, STORE_READER_PRAGMA, NULL, NULL, NULL);
		if (src == SQLITE_OK)
			src = stmts_prepare(r->db, rsql, r->stmt, R_COUNT);
	}
	if (src != SQLITE_OK) {
		orch_error(STORE_COMPONENT, "opening a reader on %s: %s",
		    st->path,
		    r->db != NULL ? sqlite3_errmsg(r->db)
		                  : sqlite3_errstr(src));
		rc = (src & 0xff) == SQLITE_NOMEM ? ORCH_ENOMEM : ORCH_EIO;
		goto out;
	}
	*out = r;
out:
	if (rc != ORCH_OK)
		orch_store_reader_free(r);
	return rc;
}

/* Logs a failed read and returns its code. */
static int
reader_fail(struct orch_store_reader *r, int src, const char *what)
{
	orch_error(STORE_COMPONENT, "%s: %s: %s", r->st->path, what,
	    sqlite3_errmsg(r->db));
	return store_err(src, false);
}

/* Decodes the task blob in column col of the current row of s. */
static int
reader_decode_col(struct orch_store_reader *r, sqlite3_stmt *s, int col,
    const char *what, orch_task **out /* OUT */)
{
	const void *blob = sqlite3_column_blob(s, col);
	int n = sqlite3_column_bytes(s, col);
	orch_task *t = orch__task__unpack(NULL, (size_t)n, blob);

	if (t == NULL || t->id == NULL) {
		orch_error(STORE_COMPONENT,
		    "%s: %s: a stored record (%d bytes) "
		    "does not decode as a task: the database is corrupt",
		    r->st->path, what, n);
		orch_task_free(t);
		return ORCH_EIO;
	}
	*out = t;
	return ORCH_OK;
}

/* Decodes the task blob in column 0 of the current row of s. */
static int
reader_decode(struct orch_store_reader *r, sqlite3_stmt *s, const char *what,
    orch_task **out /* OUT */)
{
	return reader_decode_col(r, s, 0, what, out);
}

int
orch_store_ping(struct orch_store_reader *r)
{
	sqlite3_stmt *s = r->stmt[R_PING];
	int src = sqlite3_step(s), rc = ORCH_OK;

	if (src != SQLITE_ROW)
		rc = reader_fail(r, src, "ping");
	sqlite3_reset(s);
	return rc;
}

int
orch_store_task_get(
    struct orch_store_reader *r, const char *id, orch_task **out)
{
	sqlite3_stmt *s = r->stmt[R_GET];
	char what[64];
	orch_task *t = NULL;
	int src, rc = ORCH_OK;

	*out = NULL;
	if (id == NULL)
		return ORCH_EINVAL;
	snprintf(what, sizeof(what), "reading task %.40s", id);
	if ((src = sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC)) !=
	    SQLITE_OK) {
		rc = reader_fail(r, src, what);
		goto out;
	}
	src = sqlite3_step(s);
	if (src == SQLITE_DONE) {
		rc = ORCH_ENOENT;
		goto out;
	}
	if (src != SQLITE_ROW) {
		rc = reader_fail(r, src, what);
		goto out;
	}
	if ((rc = reader_decode(r, s, what, &t)) != ORCH_OK)
		goto out;
	if (strcmp(t->id, id) != 0) {
		orch_error(STORE_COMPONENT,
		    "%s: %s: the stored record is of task "
		    "%.40s: the database is corrupt",
		    r->st->path, what, t->id);
		rc = ORCH_EIO;
		goto out;
	}
	*out = t;
	t = NULL;
out:
	orch_task_free(t);
	/* Ends the read transaction, so the WAL can be checkpointed. */
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

void
orch_store_task_list_free(orch_task **tasks, size_t n)
{
	if (tasks == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		orch_task_free(tasks[i]);
	free(tasks);
}

/* Steps s, which selects task blobs, calling fn with each task decoded
 * (fn owns it); stops at fn's first error.  what names the read in
 * messages.  Resets s. */
static int
reader_scan(struct orch_store_reader *r, sqlite3_stmt *s, const char *what,
    int (*fn)(void *arg, orch_task *t), void *arg)
{
	orch_task *t;
	int src, rc = ORCH_OK;

	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		if ((rc = reader_decode(r, s, what, &t)) != ORCH_OK ||
		    (rc = fn(arg, t)) != ORCH_OK)
			goto out;
	}
	if (src != SQLITE_DONE)
		rc = reader_fail(r, src, what);
out:
	sqlite3_reset(s);
	return rc;
}

/* A growing array of tasks, filled by reader_scan(). */
struct task_vec {
	orch_task **v;
	size_t len, cap;
};

static int
task_vec_push(void *arg, orch_task *t)
{
	struct task_vec *tv = arg;
	orch_task **nv;

	if (tv->len == tv->cap) {
		size_t cap = tv->cap > 0 ? tv->cap * 2 : 64;

		if ((nv = realloc(tv->v, cap * sizeof(*nv))) == NULL) {
			orch_task_free(t);
			return ORCH_ENOMEM;
		}
		tv->v = nv;
		tv->cap = cap;
	}
	tv->v[tv->len++] = t;
	return ORCH_OK;
}

/* Steps s, which selects task blobs, into a new array.  what names the
 * read in messages.  Resets s. */
static int
reader_tasks(struct orch_store_reader *r, sqlite3_stmt *s, const char *what,
    orch_task ***out /* OUT */, size_t *n /* OUT */)
{
	struct task_vec tv = {NULL, 0, 0};
	int rc;

	if ((rc = reader_scan(r, s, what, task_vec_push, &tv)) != ORCH_OK) {
		orch_store_task_list_free(tv.v, tv.len);
		return rc;
	}
	*out = tv.v;
	*n = tv.len;
	return ORCH_OK;
}

int
orch_store_task_list(
    struct orch_store_reader *r, int status, orch_task ***out, size_t *n)
{
	sqlite3_stmt *s = r->stmt[status == 0 ? R_LIST_ALL : R_LIST_STATUS];
	int src;

	*out = NULL;
	*n = 0;
	if (status != 0 && (src = sqlite3_bind_int(s, 1, status)) != SQLITE_OK)
		return reader_fail(r, src, "listing tasks");
	return reader_tasks(r, s, "listing tasks", out, n);
}

int
orch_store_task_list_node(struct orch_store_reader *r, const char *node_id,
    orch_task ***out, size_t *n)
{
	sqlite3_stmt *s = r->stmt[R_LIST_NODE];
	char what[80];
	int src, rc;

	*out = NULL;
	*n = 0;
	if (node_id == NULL)
		return ORCH_EINVAL;
	snprintf(
	    what, sizeof(what), "listing the tasks of node %.40s", node_id);
	if ((src = sqlite3_bind_text(s, 1, node_id, -1, SQLITE_STATIC)) !=
	    SQLITE_OK)
		return reader_fail(r, src, what);
	rc = reader_tasks(r, s, what, out, n);
	sqlite3_clear_bindings(s);
	return rc;
}

int
orch_store_task_blobs_node(struct orch_store_reader *r, const char *node_id,
    int (*fn)(void *arg, const uint8_t *b, size_t n), void *arg)
{
	sqlite3_stmt *s = r->stmt[R_LIST_NODE];
	char what[80];
	int src, rc = ORCH_OK;

	if (node_id == NULL)
		return ORCH_EINVAL;
	snprintf(
	    what, sizeof(what), "listing the tasks of node %.40s", node_id);
	if ((src = sqlite3_bind_text(s, 1, node_id, -1, SQLITE_STATIC)) !=
	    SQLITE_OK)
		return reader_fail(r, src, what);
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		const uint8_t *b = sqlite3_column_blob(s, 0);
		int n = sqlite3_column_bytes(s, 0);

		if ((rc = fn(arg, b, n > 0 ? (size_t)n : 0)) != ORCH_OK)
			goto out;
	}
	if (src != SQLITE_DONE)
		rc = reader_fail(r, src, what);
out:
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

int
orch_store_task_blobs_assigned(struct orch_store_reader *r, const char *node_id,
    char (*ids)[ORCH_ID_LEN], size_t n,
    int (*fn)(void *arg, size_t i, const uint8_t *b, size_t len), void *arg)
{
	sqlite3_stmt *s = r->stmt[R_GET_ASSIGNED];
	char what[80];
	int src, rc = ORCH_OK;

	if (node_id == NULL)
		return ORCH_EINVAL;
	snprintf(
	    what, sizeof(what), "reading the tasks of node %.40s", node_id);
	/* One read transaction for all: each of its own would start with a
	 * cold page cache, as SQLite drops a connection's cache when another
	 * has written since its last read, and the writer always has. */
	if ((src = stmt_run(r->stmt[R_BEGIN])) != SQLITE_OK)
		return reader_fail(r, src, what);
	for (size_t i = 0; i < n && rc == ORCH_OK; i++) {
		if ((src = sqlite3_bind_text(
		         s, 1, node_id, -1, SQLITE_STATIC)) != SQLITE_OK ||
		    (src = sqlite3_bind_text(
		         s, 2, ids[i], -1, SQLITE_STATIC)) != SQLITE_OK) {
			rc = reader_fail(r, src, what);
			break;
		}
		src = sqlite3_step(s);
		if (src == SQLITE_ROW) {
			int len = sqlite3_column_bytes(s, 0);

			rc = fn(arg, i, sqlite3_column_blob(s, 0),
			    len > 0 ? (size_t)len : 0);
		} else if (src == SQLITE_DONE) {
			rc = fn(arg, i, NULL, 0);
		} else {
			rc = reader_fail(r, src, what);
		}
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
	if ((src = stmt_run(r->stmt[R_END])) != SQLITE_OK && rc == ORCH_OK)
		rc = reader_fail(r, src, what);
	return rc;
}

int
orch_store_task_list_open(
    struct orch_store_reader *r, orch_task ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	return reader_tasks(
	    r, r->stmt[R_LIST_OPEN], "listing open tasks", out, n);
}

int
orch_store_task_scan_open(
    struct orch_store_reader *r, int (*fn)(void *arg, orch_task *t), void *arg)
{
	return reader_scan(
	    r, r->stmt[R_LIST_OPEN], "listing open tasks", fn, arg);
}

int
orch_store_task_list_service(struct orch_store_reader *r,
    const char *service_id, orch_task ***out, size_t *n)
{
	sqlite3_stmt *s = r->stmt[R_LIST_SERVICE];
	char what[96];
	int src, rc;

	*out = NULL;
	*n = 0;
	if (service_id == NULL)
		return ORCH_EINVAL;
	snprintf(what, sizeof(what), "listing the tasks of service %.40s",
	    service_id);
	if ((src = sqlite3_bind_text(s, 1, service_id, -1, SQLITE_STATIC)) !=
	    SQLITE_OK)
		return reader_fail(r, src, what);
	rc = reader_tasks(r, s, what, out, n);
	sqlite3_clear_bindings(s);
	return rc;
}

int
orch_store_task_page(struct orch_store_reader *r, int status, uint64_t after,
    size_t max_tasks, size_t max_bytes, struct orch_store_task_page *page)
{
	sqlite3_stmt *s = r->stmt[status == 0 ? R_PAGE_ALL : R_PAGE_STATUS];
	struct task_vec tv = {NULL, 0, 0};
	size_t bytes = 0;
	orch_task *t;
	int src, rc = ORCH_OK;

	memset(page, 0, sizeof(*page));
	page->last = after;
	if (max_tasks == 0 || after > (uint64_t)INT64_MAX)
		return ORCH_EINVAL;
	if ((src = sqlite3_bind_int64(s, 1, (sqlite3_int64)after)) !=
	        SQLITE_OK ||
	    (src = sqlite3_bind_int64(s, 2,
	         max_tasks > (size_t)INT64_MAX ? INT64_MAX
	                                       : (sqlite3_int64)max_tasks)) !=
	        SQLITE_OK ||
	    (status != 0 &&
	        (src = sqlite3_bind_int(s, 3, status)) != SQLITE_OK)) {
		rc = reader_fail(r, src, "listing tasks");
		goto out;
	}
	/* One statement, so one read transaction, which ends at the reset
	 * below: nothing is held open between pages. */
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		if ((rc = reader_decode_col(r, s, 1, "listing tasks", &t)) !=
		        ORCH_OK ||
		    (rc = task_vec_push(&tv, t)) != ORCH_OK)
			goto out;
		page->last = (uint64_t)sqlite3_column_int64(s, 0);
		bytes += (size_t)sqlite3_column_bytes(s, 1);
		if (bytes >= max_bytes)
			break;
	}
	if (src != SQLITE_ROW && src != SQLITE_DONE) {
		rc = reader_fail(r, src, "listing tasks");
		goto out;
	}
	/* Short of both limits: the statement ran out of rows. */
	page->end = src == SQLITE_DONE && tv.len < max_tasks;
	page->tasks = tv.v;
	page->n = tv.len;
	tv.v = NULL;
out:
	if (rc != ORCH_OK) {
		orch_store_task_list_free(tv.v, tv.len);
		page->last = after;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

/* ---- service reads ---- */

/* Decodes the service blob in column 0 of the current row of s. */
static int
reader_service_decode(struct orch_store_reader *r, sqlite3_stmt *s,
    const char *what, orch_service **out /* OUT */)
{
	const void *blob = sqlite3_column_blob(s, 0);
	int n = sqlite3_column_bytes(s, 0);
	orch_service *svc = orch__service__unpack(NULL, (size_t)n, blob);

	if (svc == NULL || svc->id == NULL || svc->name == NULL) {
		orch_error(STORE_COMPONENT,
		    "%s: %s: a stored record (%d bytes) "
		    "does not decode as a service: the database is corrupt",
		    r->st->path, what, n);
		orch_service_free(svc);
		return ORCH_EIO;
	}
	*out = svc;
	return ORCH_OK;
}

static int
reader_service_one(struct orch_store_reader *r, sqlite3_stmt *s,
    const char *key, const char *what, orch_service **out)
{
	int src, rc;

	if ((src = sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC)) !=
	    SQLITE_OK) {
		rc = reader_fail(r, src, what);
		goto out;
	}
	src = sqlite3_step(s);
	if (src == SQLITE_DONE)
		rc = ORCH_ENOENT;
	else if (src != SQLITE_ROW)
		rc = reader_fail(r, src, what);
	else
		rc = reader_service_decode(r, s, what, out);
out:
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

int
orch_store_service_get(
    struct orch_store_reader *r, const char *key, orch_service **out)
{
	char what[180];
	int rc;

	*out = NULL;
	if (key == NULL || key[0] == '\0')
		return ORCH_EINVAL;
	snprintf(what, sizeof(what), "reading service \"%.128s\"", key);
	rc = reader_service_one(r, r->stmt[R_SERVICE_BY_ID], key, what, out);
	if (rc == ORCH_ENOENT)
		rc = reader_service_one(
		    r, r->stmt[R_SERVICE_BY_NAME], key, what, out);
	return rc;
}

void
orch_store_service_list_free(orch_service **svcs, size_t n)
{
	if (svcs == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		orch_service_free(svcs[i]);
	free(svcs);
}

int
orch_store_service_list(
    struct orch_store_reader *r, orch_service ***out, size_t *n)
{
	sqlite3_stmt *s = r->stmt[R_SERVICE_LIST];
	orch_service **v = NULL, **nv, *svc;
	size_t len = 0, cap = 0;
	int src, rc = ORCH_OK;

	*out = NULL;
	*n = 0;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap > 0 ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				rc = ORCH_ENOMEM;
				goto out;
			}
			v = nv;
		}
		if ((rc = reader_service_decode(
		         r, s, "listing services", &svc)) != ORCH_OK)
			goto out;
		v[len++] = svc;
	}
	if (src != SQLITE_DONE) {
		rc = reader_fail(r, src, "listing services");
		goto out;
	}
	*out = v;
	*n = len;
	v = NULL;
out:
	sqlite3_reset(s);
	orch_store_service_list_free(v, len);
	return rc;
}

/* ---- node reads ---- */

/* Decodes the node blob in column 0 of the current row of s. */
static int
reader_node_decode(struct orch_store_reader *r, sqlite3_stmt *s,
    const char *what, orch_node **out /* OUT */)
{
	const void *blob = sqlite3_column_blob(s, 0);
	int n = sqlite3_column_bytes(s, 0);
	orch_node *node = orch__node__unpack(NULL, (size_t)n, blob);

	if (node == NULL || node->id == NULL || node->name == NULL) {
		orch_error(STORE_COMPONENT,
		    "%s: %s: a stored record (%d bytes) "
		    "does not decode as a node: the database is corrupt",
		    r->st->path, what, n);
		orch_node_free(node);
		return ORCH_EIO;
	}
	*out = node;
	return ORCH_OK;
}

/* Looks up one node with s (by id or by name).  ORCH_ENOENT: none. */
static int
reader_node_one(struct orch_store_reader *r, sqlite3_stmt *s, const char *key,
    const char *what, orch_node **out)
{
	int src, rc;

	if ((src = sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC)) !=
	    SQLITE_OK) {
		rc = reader_fail(r, src, what);
		goto out;
	}
	src = sqlite3_step(s);
	if (src == SQLITE_DONE)
		rc = ORCH_ENOENT;
	else if (src != SQLITE_ROW)
		rc = reader_fail(r, src, what);
	else
		rc = reader_node_decode(r, s, what, out);
out:
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

int
orch_store_node_get(
    struct orch_store_reader *r, const char *key, orch_node **out)
{
	char what[180];
	int rc;

	*out = NULL;
	if (key == NULL || key[0] == '\0')
		return ORCH_EINVAL;
	snprintf(what, sizeof(what), "reading node \"%.128s\"", key);
	/* An id wins over a name that happens to look like one. */
	rc = reader_node_one(r, r->stmt[R_NODE_BY_ID], key, what, out);
	if (rc == ORCH_ENOENT)
		rc =
		    reader_node_one(r, r->stmt[R_NODE_BY_NAME], key, what, out);
	return rc;
}

void
orch_store_node_list_free(orch_node **nodes, size_t n)
{
	if (nodes == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		orch_node_free(nodes[i]);
	free(nodes);
}

int
orch_store_node_list(struct orch_store_reader *r, orch_node ***out, size_t *n)
{
	sqlite3_stmt *s = r->stmt[R_NODE_LIST];
	orch_node **v = NULL, **nv, *node;
	size_t len = 0, cap = 0;
	int src, rc = ORCH_OK;

	*out = NULL;
	*n = 0;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap > 0 ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				rc = ORCH_ENOMEM;
				goto out;
			}
			v = nv;
		}
		if ((rc = reader_node_decode(r, s, "listing nodes", &node)) !=
		    ORCH_OK)
			goto out;
		v[len++] = node;
	}
	if (src != SQLITE_DONE) {
		rc = reader_fail(r, src, "listing nodes");
		goto out;
	}
	*out = v;
	*n = len;
	v = NULL;
out:
	sqlite3_reset(s);
	orch_store_node_list_free(v, len);
	return rc;
}

/*
 * Steps s, whose rows start with an id (a node's or a service's), into a
 * new array of elements of size elem: fill copies the row's other
 * columns into each.  Rows whose id is not an id are skipped.  what names
 * the read in messages.  Resets s.
 */
static int
reader_id_rows(struct orch_store_reader *r, sqlite3_stmt *s, const char *what,
    size_t elem, void (*fill)(void *e, const char *id, sqlite3_stmt *s),
    void **out /* OUT */, size_t *n /* OUT */)
{
	char *v = NULL, *nv;
	size_t len = 0, cap = 0;
	int src, rc = ORCH_OK;

	*out = NULL;
	*n = 0;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(s, 0);

		/* Only the scheduler places tasks, always on a node id; a
		 * replica always has its service's. */
		if (id == NULL || strlen(id) != ORCH_ID_LEN - 1)
			continue;
		if (len == cap) {
			cap = cap > 0 ? cap * 2 : 16;
			if ((nv = realloc(v, cap * elem)) == NULL) {
				rc = ORCH_ENOMEM;
				goto out;
			}
			v = nv;
		}
		fill(v + len * elem, id, s);
		len++;
	}
	if (src != SQLITE_DONE) {
		rc = reader_fail(r, src, what);
		goto out;
	}
	*out = v;
	*n = len;
	v = NULL;
out:
	sqlite3_reset(s);
	free(v);
	return rc;
}

static void
usage_fill(void *e, const char *id, sqlite3_stmt *s)
{
	struct orch_node_usage *u = e;

	memcpy(u->node_id, id, ORCH_ID_LEN);
	u->cpu = sqlite3_column_double(s, 1);
	u->memory_mb = sqlite3_column_int64(s, 2);
	u->tasks = (uint32_t)sqlite3_column_int64(s, 3);
}

int
orch_store_node_usage(
    struct orch_store_reader *r, struct orch_node_usage **out, size_t *n)
{
	return reader_id_rows(r, r->stmt[R_NODE_USAGE],
	    "summing the resources of nodes", sizeof(**out), usage_fill,
	    (void **)out, n);
}

/* ---- event and count reads ---- */

int
orch_store_events_bounds(
    struct orch_store_reader *r, uint64_t *oldest, uint64_t *newest)
{
	sqlite3_stmt *s = r->stmt[R_EVENTS_BOUNDS];
	int src = sqlite3_step(s), rc = ORCH_OK;

	*oldest = *newest = 0;
	if (src == SQLITE_ROW) {
		*oldest = (uint64_t)sqlite3_column_int64(s, 0);
		*newest = (uint64_t)sqlite3_column_int64(s, 1);
	} else {
		rc = reader_fail(r, src, "reading the bounds of the events");
	}
	sqlite3_reset(s);
	return rc;
}

int
orch_store_events_read(struct orch_store_reader *r, uint64_t after,
    size_t limit,
    int (*fn)(void *arg, uint64_t index, const uint8_t *data, size_t len),
    void *arg)
{
	sqlite3_stmt *s = r->stmt[R_EVENTS_AFTER];
	int src, rc = ORCH_OK;

	if ((src = sqlite3_bind_int64(s, 1, (sqlite3_int64)after)) !=
	        SQLITE_OK ||
	    (src = sqlite3_bind_int64(s, 2, (sqlite3_int64)limit)) !=
	        SQLITE_OK) {
		rc = reader_fail(r, src, "reading events");
		goto out;
	}
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		uint64_t idx = (uint64_t)sqlite3_column_int64(s, 0);
		const uint8_t *data = sqlite3_column_blob(s, 1);
		int n = sqlite3_column_bytes(s, 1);

		if ((rc = fn(arg, idx, data, (size_t)n)) != ORCH_OK)
			goto out;
	}
	if (src != SQLITE_DONE)
		rc = reader_fail(r, src, "reading events");
out:
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

int
orch_store_task_counts(struct orch_store_reader *r,
    uint64_t counts[ORCH_STORE_STATUS_SLOTS], uint64_t *index)
{
	sqlite3_stmt *s = r->stmt[R_TASK_COUNTS];
	uint64_t oldest;
	int src, rc;

	memset(counts, 0, ORCH_STORE_STATUS_SLOTS * sizeof(*counts));
	*index = 0;
	/* One read transaction: the counts are those after the newest
	 * event it sees. */
	if ((src = stmt_run(r->stmt[R_BEGIN])) != SQLITE_OK)
		return reader_fail(r, src, "counting tasks");
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t status = sqlite3_column_int64(s, 0);

		if (status >= 0 && status < ORCH_STORE_STATUS_SLOTS)
			counts[status] += (uint64_t)sqlite3_column_int64(s, 1);
	}
	rc = src == SQLITE_DONE ? ORCH_OK
	                        : reader_fail(r, src, "counting tasks");
	sqlite3_reset(s);
	if (rc == ORCH_OK)
		rc = orch_store_events_bounds(r, &oldest, index);
	if ((src = stmt_run(r->stmt[R_END])) != SQLITE_OK && rc == ORCH_OK)
		rc = reader_fail(r, src, "counting tasks");
	return rc;
}

static void
running_fill(void *e, const char *id, sqlite3_stmt *s)
{
	struct orch_service_running *sr = e;

	memcpy(sr->service_id, id, ORCH_ID_LEN);
	sr->running = (uint64_t)sqlite3_column_int64(s, 1);
}

int
orch_store_service_running(
    struct orch_store_reader *r, struct orch_service_running **out, size_t *n)
{
	return reader_id_rows(r, r->stmt[R_SERVICE_RUNNING],
	    "counting the running replicas", sizeof(**out), running_fill,
	    (void **)out, n);
}
