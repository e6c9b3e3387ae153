/*
 * e2e_disk.c: the real orch-manager on a disk that refuses writes.
 *
 * Full: the data directory is a 2 MB tmpfs, filled by a file of the
 * test's.  Writes (HTTP and RPC, and the scheduler's placements) are
 * refused with 503 / UNAVAILABLE saying the disk is full, reads go on,
 * GET /healthz says "degraded"; once the file is deleted the manager
 * takes writes again by itself and places what waited; after a restart
 * every acknowledged task is there exactly once and no refused one is,
 * and PRAGMA integrity_check is ok.
 *
 * Read-only: the data directory is an ext4 file system on a loop device,
 * mounted errors=remount-ro, which the test makes go read-only under
 * the running manager the way the kernel does on an I/O error
 * (/sys/fs/ext4/DEV/trigger_fs_error).  Linux cannot make such a file
 * system writable again while files are open on it (and refuses
 * `mount -o remount,ro` of any file system with files open for writing,
 * which is why this is the way to get a read-only data directory under a
 * running manager), so recovery here is what an operator does: stop the
 * manager, unmount, fsck, mount, start it again, and nothing
 * acknowledged is lost.
 *
 * Needs root (mounts); run in a mount namespace of its own so that the
 * mounts go away with the test however it ends.  Skipped (77) when it
 * cannot mount.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"
#include "fake_agent.h"
#include "harness.h"
#include "http_json.h"
#include "manager_proc.h"
#include "orch.pb-c.h"
#include "prom_text.h"
#include "rpc_client.h"

#define SKIPPED 77
#define MAX_ACKED 4096

static struct mgr m;

/* The tasks whose POST was answered 201. */
static char *acked[MAX_ACKED];
static int n_acked;

/* POST /tasks of a task named name.  Returns the status; a 201's id is
 * recorded, the answer's body kept in *resp (caller frees) when asked. */
static int
post_task(const char *name, char **resp)
{
	char body[256], *out = NULL;
	int st;

	snprintf(body, sizeof(body),
	    "{\"name\":\"%s\",\"image\":\"busybox:1\",\"memory\":16,"
	    "\"cpu\":0.01}",
	    name);
	st = h_http(m.http_port, "POST", "/tasks", body, &out);
	if (st == 201) {
		json_t *j = hj_parse(out);

		ASSERT(n_acked < MAX_ACKED);
		acked[n_acked++] = strdup(hj_str(j, "id"));
		json_decref(j);
	}
	if (resp != NULL)
		*resp = out;
	else
		free(out);
	return st;
}

/* GET /healthz's body, parsed (200 asserted). */
static json_t *
healthz(void)
{
	return hj_call(m.http_port, "GET", "/healthz", NULL, 200);
}

static bool
health_ok(void *arg)
{
	json_t *j = healthz();
	bool ok = strcmp(hj_str(j, "status"), "ok") == 0;

	(void)arg;
	json_decref(j);
	return ok;
}

/* Writes to path until the file system is full. */
static void
fill(const char *path)
{
	static char chunk[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ASSERT(fd >= 0);
	memset(chunk, 'x', sizeof(chunk));
	while (write(fd, chunk, sizeof(chunk)) > 0)
		;
	ASSERT_INT_EQ(errno, ENOSPC);
	close(fd);
}

/* Every acknowledged task is there exactly once, and nothing else of
 * the names given (prefix) is. */
static void
expect_acked_exactly(const char *prefix)
{
	json_t *all = hj_call(m.http_port, "GET", "/tasks", NULL, 200);
	size_t i, n_prefixed = 0;
	json_t *t;

	json_array_foreach(all, i, t)
	{
		const char *name = hj_str(t, "name");

		if (strncmp(name, prefix, strlen(prefix)) == 0)
			n_prefixed++;
	}
	for (int k = 0; k < n_acked; k++) {
		int seen = 0;

		json_array_foreach(all, i, t)
		{
			if (strcmp(hj_str(t, "id"), acked[k]) == 0)
				seen++;
		}
		if (seen != 1)
			h_fail(__FILE__, __LINE__,
			    "acknowledged task %s seen %d times", acked[k],
			    seen);
	}
	ASSERT_INT_EQ(n_prefixed, n_acked);
	json_decref(all);
}

/* PRAGMA integrity_check of the stopped manager's database. */
static void
expect_integrity_ok(const char *dir)
{
	char path[512], *res = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	snprintf(path, sizeof(path), "%s/orch.db", dir);
	ASSERT_INT_EQ(
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	ASSERT_INT_EQ(
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL),
	    SQLITE_OK);
	ASSERT_INT_EQ(sqlite3_step(s), SQLITE_ROW);
	res = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
	ASSERT_STR_EQ(res, "ok");
	free(res);
}

/* A write was refused with resp, whose error begins with head: reads go
 * on (every acknowledged task listed, one read by id), GET /healthz says
 * degraded for the same cause, and the manager is up. */
static void
expect_refused(const char *resp, const char *head)
{
	json_t *j = hj_parse(resp);

	ASSERT(strncmp(hj_str(j, "error"), head, strlen(head)) == 0);
	ASSERT_STR_CONTAINS(hj_str(j, "error"), "; reads still work");
	json_decref(j);
	j = hj_call(m.http_port, "GET", "/tasks", NULL, 200);
	ASSERT_INT_EQ(json_array_size(j), n_acked);
	json_decref(j);
	json_decref(hj_task(m.http_port, acked[n_acked - 1]));
	j = healthz();
	ASSERT_STR_EQ(hj_str(j, "status"), "degraded");
	ASSERT(json_is_false(json_object_get(j, "writable")));
	ASSERT(strncmp(hj_str(j, "error"), head, strlen(head)) == 0);
	ASSERT(hj_int(j, "refused_writes") >= 1);
	json_decref(j);
	ASSERT(kill(m.pid, 0) == 0);
}

static void
acked_free(void)
{
	for (int k = 0; k < n_acked; k++)
		free(acked[k]);
	n_acked = 0;
}

/* ---- the event stream ---- */

/*
 * GET /events?since=0 over HTTP/1.0 (the body: lines until the close),
 * open across the refusal.  Each line read is checked: indexes 1, 2,
 * 3... with no hole (a refused batch gives its indexes back), and every
 * task.created is of an acknowledged task, once (a refused write's event
 * is never streamed).
 */
struct evstream {
	int fd;
	char buf[1 << 16];
	size_t len;
	bool in_body;
	uint64_t last;          /* the last index read */
	int created[MAX_ACKED]; /* task.created events of acked[i] */
};

static void
evs_open(struct evstream *s)
{
	static const char req[] = "GET /events?since=0 HTTP/1.0\r\n\r\n";

	memset(s, 0, sizeof(*s));
	s->fd = h_connect(m.http_port);
	ASSERT(s->fd >= 0);
	ASSERT(h_send_all(s->fd, req, sizeof(req) - 1) == 0);
}

/* Checks one line of the stream; returns the id of the task it created,
 * or NULL. */
static const char *
evs_line(struct evstream *s, const char *line)
{
	json_t *j = hj_parse(line);
	const char *id = NULL;

	if ((uint64_t)hj_int(j, "index") != s->last + 1)
		h_fail(__FILE__, __LINE__, "event %lld after %llu: %s",
		    (long long)hj_int(j, "index"), (unsigned long long)s->last,
		    line);
	s->last++;
	if (strcmp(hj_str(j, "type"), "task.created") == 0) {
		int k;

		for (k = 0; k < n_acked; k++) {
			if (strcmp(acked[k], hj_str(j, "id")) == 0)
				break;
		}
		if (k == n_acked || s->created[k]++ != 0)
			h_fail(__FILE__, __LINE__,
			    "task.created of a task not acknowledged, or "
			    "twice: %s",
			    line);
		id = acked[k];
	}
	json_decref(j);
	return id;
}

/* Reads the stream until the task.created of id, checking each line;
 * fails the test when it does not come within 30 s or the stream ends. */
static void
evs_until_created(struct evstream *s, const char *id)
{
	int64_t end = orch_mono_ms() + 30000;

	for (;;) {
		char *nl;
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		ssize_t n;

		while ((nl = memchr(s->buf, '\n', s->len)) != NULL) {
			const char *created = NULL;
			size_t used = (size_t)(nl - s->buf) + 1;

			*nl = '\0';
			if (!s->in_body) {
				/* The head: the status line, headers, the
				 * empty line that ends them. */
				if (s->last == 0 &&
				    strncmp(s->buf, "HTTP/", 5) == 0)
					ASSERT_STR_CONTAINS(s->buf, " 200 ");
				s->in_body = strcmp(s->buf, "\r") == 0;
			} else {
				created = evs_line(s, s->buf);
			}
			memmove(s->buf, s->buf + used, s->len - used);
			s->len -= used;
			if (created != NULL && strcmp(created, id) == 0)
				return;
		}
		ASSERT(s->len < sizeof(s->buf));
		if (orch_mono_ms() >= end ||
		    poll(&p, 1, (int)(end - orch_mono_ms())) <= 0)
			h_fail(__FILE__, __LINE__,
			    "no task.created of %s on the stream (last "
			    "index %llu)",
			    id, (unsigned long long)s->last);
		n = recv(s->fd, s->buf + s->len, sizeof(s->buf) - s->len, 0);
		if (n <= 0)
			h_fail(__FILE__, __LINE__,
			    "the event stream ended after index %llu",
			    (unsigned long long)s->last);
		s->len += (size_t)n;
	}
}

/* ---- a full disk ---- */

static nng_socket rpc;
static char node_id[ORCH_ID_LEN];

static bool
node_has_status(void *arg)
{
	json_t *n = hj_call(m.http_port, "GET", "/nodes/disk-node", NULL, 200);
	bool is = strcmp(hj_str(n, "status"), arg) == 0;

	json_decref(n);
	return is;
}

/* The scheduler tried to place tasks and the store refused: its debug
 * line says how many of a pass's failed writes were placements. */
static bool
placements_refused(void *arg)
{
	char *log = h_read_file(m.log), *p = log;
	bool found = false;

	(void)arg;
	while (p != NULL && !found &&
	    (p = strstr(p, " of this pass failed (")) != NULL) {
		p += strlen(" of this pass failed (");
		found = strtol(p, NULL, 10) > 0;
	}
	free(log);
	return found;
}

static bool
all_acked_placed(void *arg)
{
	(void)arg;
	for (int k = 0; k < n_acked; k++) {
		json_t *t = hj_task(m.http_port, acked[k]);
		bool placed = strcmp(hj_str(t, "status"), "Scheduled") == 0 &&
		    hj_str(t, "node_id") != NULL &&
		    strcmp(hj_str(t, "node_id"), node_id) == 0;

		json_decref(t);
		if (!placed)
			return false;
	}
	return true;
}

static void
test_disk_full(void)
{
	Orch__NodeRegistration r = ORCH__NODE_REGISTRATION__INIT;
	char *drivers[] = {"docker"};
	Orch__Node *node = NULL;
	struct fa_beater beater;
	static struct evstream evs;
	char filler[600], err[512], *resp = NULL, name[64];
	json_t *j;
	int st = 201, n_before, tries;

	/* A node that registers (a write) and then falls silent: Down, so
	 * that the tasks below wait until the disk is full. */
	rpc = fa_req_open(m.rpc_url);
	r.name = "disk-node";
	r.address = "127.0.0.1";
	r.has_cpu = true;
	r.cpu = 64;
	r.has_memory_mb = true;
	r.memory_mb = 65536;
	r.n_drivers = 1;
	r.drivers = drivers;
	ASSERT_INT_EQ(
	    fa_node_register(rpc, &r, &node, err, sizeof(err)), ORCH_OK);
	snprintf(node_id, sizeof(node_id), "%s", node->id);
	orch__node__free_unpacked(node, NULL);
	ASSERT(h_wait_until(node_has_status, "Down", 15000));
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "full-%d", i);
		ASSERT_INT_EQ(post_task(name, NULL), 201);
	}
	n_before = n_acked;
	evs_open(&evs);
	evs_until_created(&evs, acked[n_acked - 1]);

	/* Fill the disk; the WAL may hold some room still: POST until the
	 * manager refuses. */
	snprintf(filler, sizeof(filler), "%s/filler", m.data);
	fill(filler);
	for (tries = 0; tries < 2000 && st == 201; tries++) {
		free(resp);
		resp = NULL;
		snprintf(name, sizeof(name), "full-%d", n_acked);
		st = post_task(name, &resp);
	}
	ASSERT_INT_EQ(st, 503);
	fprintf(
	    stderr, "  refused after %d more: %s", n_acked - n_before, resp);
	ASSERT_STR_CONTAINS(resp, "writes are refused until space returns");
	expect_refused(resp, "the manager's disk is full: ");
	free(resp);
	ASSERT(
	    prom_scrape_value(m.http_port, "orch_store_writable", NULL) == 0);
	ASSERT(prom_scrape_value(
	           m.http_port, "orch_store_writes_refused_total", NULL) >= 1);
	j = hj_task(m.http_port, acked[0]);
	ASSERT_STR_EQ(hj_str(j, "status"), "Pending");
	json_decref(j);

	/* RPC writes: UNAVAILABLE, saying so. */
	{
		Orch__TaskSpec spec = ORCH__TASK_SPEC__INIT;
		Orch__SubmitTaskRequest sub = ORCH__SUBMIT_TASK_REQUEST__INIT;
		Orch__Task *t = NULL;

		spec.name = "full-rpc";
		spec.image = "busybox:1";
		sub.spec = &spec;
		ASSERT_INT_EQ(orch_rpc_call(rpc, "orch.Manager/SubmitTask",
		                  &sub.base, &orch__task__descriptor,
		                  (ProtobufCMessage **)&t, err, sizeof(err)),
		    ORCH_EUNAVAIL);
		ASSERT_STR_CONTAINS(err, "the manager's disk is full: ");
	}

	/* The node comes back: the scheduler's placements are refused too
	 * (the store counts them), and the tasks stay Pending, with the
	 * manager up. */
	fa_beater_start(&beater, m.rpc_url, NULL);
	fa_beater_add(&beater, node_id);
	ASSERT(h_wait_until(node_has_status, "Ready", 15000));
	ASSERT(h_wait_until(placements_refused, NULL, 15000));
	j = hj_task(m.http_port, acked[n_acked - 1]);
	ASSERT_STR_EQ(hj_str(j, "status"), "Pending");
	json_decref(j);
	ASSERT(kill(m.pid, 0) == 0);

	/* Space returns: the manager notices by itself, places what waited
	 * and takes new writes. */
	ASSERT_INT_EQ(unlink(filler), 0);
	ASSERT(h_wait_until(health_ok, NULL, 15000));
	ASSERT(h_wait_until(all_acked_placed, NULL, 30000));
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "full-%d", n_acked);
		ASSERT_INT_EQ(post_task(name, NULL), 201);
	}
	fa_beater_stop(&beater);
	ASSERT(
	    prom_scrape_value(m.http_port, "orch_store_writable", NULL) == 1);
	/* The stream stayed open through it all, and streamed the events
	 * of what was acknowledged, once each, and nothing refused, with
	 * no hole in the indexes. */
	evs_until_created(&evs, acked[n_acked - 1]);
	for (int k = 0; k < n_acked; k++)
		ASSERT_INT_EQ(evs.created[k], 1);
	close(evs.fd);
	nng_close(rpc);

	/* After a restart: every acknowledged task exactly once, none of
	 * the refused ones, and a sound database. */
	mgr_stop_clean(&m);
	mgr_restart(&m, (const char *const[]){"--heartbeat-ttl", "1", NULL});
	expect_acked_exactly("full-");
	mgr_stop_clean(&m);
	expect_integrity_ok(m.data);
	acked_free();
}

/* ---- a read-only file system ---- */

/* Runs argv (NULL-terminated; argv[0] a program of sbin or bin, found
 * there) to completion; returns its exit code, 127 when not found.  Its
 * output is shown when the code is above quiet_max. */
static int
run_quiet(const char *const *argv, int quiet_max)
{
	static const char *const dirs[] = {
	    "/usr/sbin", "/sbin", "/usr/bin", "/bin"};
	const char *args[16];
	char *out = NULL, *err = NULL, prog[256] = "";
	int rc, i;

	for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		snprintf(prog, sizeof(prog), "%s/%s", dirs[d], argv[0]);
		if (access(prog, X_OK) == 0)
			break;
		prog[0] = '\0';
	}
	if (prog[0] == '\0') {
		fprintf(stderr, "  no %s in sbin or bin\n", argv[0]);
		return 127;
	}
	args[0] = prog;
	for (i = 1; argv[i] != NULL && i < 15; i++)
		args[i] = argv[i];
	args[i] = NULL;
	rc = h_run((char *const *)args, &out, &err, 60000);
	if (rc > quiet_max || rc < 0)
		fprintf(stderr, "  %s: exit %d: %s%s", argv[0], rc,
		    out != NULL ? out : "", err != NULL ? err : "");
	free(out);
	free(err);
	return rc;
}

static int
run(const char *const *argv)
{
	return run_quiet(argv, 0);
}

/* The device mounted at dir ("loop3"), from /proc/self/mountinfo. */
static bool
mount_device(const char *dir, char *dev, size_t len)
{
	char *info = h_read_file("/proc/self/mountinfo"), *line, *save = NULL;
	bool found = false;

	ASSERT(info != NULL);
	for (line = strtok_r(info, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char mnt[512], src[256];
		const char *sep = strstr(line, " - ");

		if (sep == NULL ||
		    sscanf(line, "%*s %*s %*s %*s %511s", mnt) != 1 ||
		    strcmp(mnt, dir) != 0 ||
		    sscanf(sep + 3, "%*s %255s", src) != 1 ||
		    strncmp(src, "/dev/", 5) != 0)
			continue;
		snprintf(dev, len, "%s", src + 5);
		found = true;
	}
	free(info);
	return found;
}

static void
test_read_only(void)
{
	char *img_dir = h_tmpdir("disk-img"), img[512], dev[256];
	char trigger[512], *resp = NULL, name[64];
	int fd, st;

	snprintf(img, sizeof(img), "%s/ext4.img", img_dir);
	fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT(fd >= 0);
	ASSERT_INT_EQ(ftruncate(fd, 32 << 20), 0);
	close(fd);
	if (run((const char *const[]){"mkfs.ext4", "-q", "-F", img, NULL}) !=
	        0 ||
	    run((const char *const[]){"mount", "-o", "loop,errors=remount-ro",
	        img, m.data, NULL}) != 0 ||
	    !mount_device(m.data, dev, sizeof(dev))) {
		fprintf(stderr,
		    "  skipped: cannot mount an ext4 image on a "
		    "loop device here\n");
		h_rm_rf(img_dir);
		free(img_dir);
		return;
	}
	snprintf(
	    trigger, sizeof(trigger), "/sys/fs/ext4/%s/trigger_fs_error", dev);
	if (access(trigger, W_OK) != 0) {
		fprintf(stderr, "  skipped: no %s\n", trigger);
		ASSERT_INT_EQ(umount(m.data), 0);
		h_rm_rf(img_dir);
		free(img_dir);
		return;
	}
	mgr_restart(&m, NULL);
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "ro-%d", i);
		ASSERT_INT_EQ(post_task(name, NULL), 201);
	}

	/* The kernel turns the file system read-only under the manager. */
	fd = open(trigger, O_WRONLY);
	ASSERT(fd >= 0);
	ASSERT(write(fd, "orch e2e_disk\n", 14) == 14);
	close(fd);

	st = post_task("ro-refused", &resp);
	ASSERT_INT_EQ(st, 503);
	fprintf(stderr, "  %s", resp);
	expect_refused(resp, "the manager's data directory is read-only: ");
	free(resp);

	/* What an operator does: stop, unmount, repair, mount, start. */
	ASSERT(mgr_stop(&m, SIGTERM) != -1);
	ASSERT_INT_EQ(umount(m.data), 0);
	st = run_quiet(
	    (const char *const[]){"e2fsck", "-f", "-y", img, NULL}, 1);
	ASSERT(st == 0 || st == 1); /* 1: errors corrected */
	ASSERT_INT_EQ(run((const char *const[]){"mount", "-o",
	                  "loop,errors=remount-ro", img, m.data, NULL}),
	    0);
	mgr_restart(&m, NULL);
	expect_acked_exactly("ro-");
	ASSERT_INT_EQ(post_task("ro-after", NULL), 201);
	mgr_stop_clean(&m);
	expect_integrity_ok(m.data);
	ASSERT_INT_EQ(umount(m.data), 0);
	acked_free();
	h_rm_rf(img_dir);
	free(img_dir);
}

int
main(void)
{
	char *dir;

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: mounting file systems needs root\n");
		return SKIPPED;
	}
	/* Mounts of a namespace of our own (the manager inherits it) go
	 * away with the test's processes, however they end. */
	if (unshare(CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		fprintf(
		    stderr, "SKIP: no mount namespace: %s\n", strerror(errno));
		return SKIPPED;
	}
	/* The data directory is the mount point; the manager's log goes
	 * beside it (m.data + ".log"), off the disk that fills. */
	dir = h_tmpdir("disk");
	if (mount("orch-e2e-disk", dir, "tmpfs", 0, "size=2m,mode=0700") != 0) {
		fprintf(stderr, "SKIP: cannot mount a tmpfs: %s\n",
		    strerror(errno));
		h_rm_rf(dir);
		free(dir);
		return SKIPPED;
	}
	m.data = dir;
	mgr_start(&m,
	    (const char *const[]){
	        "--heartbeat-ttl", "1", "--log-level", "debug", NULL});
	RUN(test_disk_full);
	ASSERT_INT_EQ(umount(m.data), 0);
	RUN(test_read_only);
	mgr_destroy(&m);
	return 0;
}
