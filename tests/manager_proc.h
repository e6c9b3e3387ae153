/*
 * manager_proc.h: starting a real orch-manager for end-to-end tests.
 *
 * With ORCH_VALGRIND=1 in the environment the manager runs under valgrind
 * memcheck (harness.h, h_spawn()): scripts/test --valgrind does that for
 * the end-to-end tests that stop it cleanly.
 */
#ifndef ORCH_MANAGER_PROC_H
#define ORCH_MANAGER_PROC_H

#include <sys/types.h>

struct mgr {
	pid_t pid;
	int http_port;
	int rpc_port;
	int pub_port;
	char *data;    /* data directory (owned) */
	char log[512]; /* its stdout and stderr */
	char rpc_url[64];
	char addr[64]; /* http://127.0.0.1:PORT for orchctl */
};

/*
 * Starts orch-manager on free loopback ports with data in m->data (a new
 * temporary directory when NULL), plus extra flags (NULL-terminated, may
 * be NULL), and waits until /healthz answers 200.  Fails the test if it
 * does not within 15 s.
 */
void mgr_start(struct mgr *m, const char *const *extra);

/* Starts it again on the same ports and data directory. */
void mgr_restart(struct mgr *m, const char *const *extra);

/* Stops it with sig (SIGTERM for a clean stop, SIGKILL for a crash).
 * Returns its wait status (-1 if it did not stop within 10 s). */
int mgr_stop(struct mgr *m, int sig);

/* Stops it with SIGTERM and fails the test, showing its log, unless it
 * exits 0 within 10 s (under ASan a clean exit also means no leak; with
 * ORCH_VALGRIND=1, no memory error and no definite leak). */
void mgr_stop_clean(struct mgr *m);

/* Stops it if running and removes its data directory. */
void mgr_destroy(struct mgr *m);

#endif
