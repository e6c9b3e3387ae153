/*
 * harness.h: the test runner's helpers.
 *
 * Assertions stop the test program at the first failure with the file,
 * line and expression.  Process helpers start the real programs on free
 * loopback ports, wait for conditions with deadlines, and kill only the
 * processes they started, by pid.
 */
#ifndef ORCH_HARNESS_H
#define ORCH_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

void h_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

#define ASSERT(c)                                                              \
	do {                                                                   \
		if (!(c))                                                      \
			h_fail(                                                \
			    __FILE__, __LINE__, "assertion failed: %s", #c);   \
	} while (0)
#define ASSERT_INT_EQ(a, b)                                                    \
	do {                                                                   \
		long long a_ = (long long)(a), b_ = (long long)(b);            \
		if (a_ != b_)                                                  \
			h_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld",   \
			    #a, #b, a_, b_);                                   \
	} while (0)
#define ASSERT_STR_EQ(a, b)                                                    \
	do {                                                                   \
		const char *a_ = (a), *b_ = (b);                               \
		if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)           \
			h_fail(__FILE__, __LINE__,                             \
			    "%s == %s: \"%s\" != \"%s\"", #a, #b,              \
			    a_ ? a_ : "(null)", b_ ? b_ : "(null)");           \
	} while (0)
#define ASSERT_STR_CONTAINS(hay, needle)                                       \
	do {                                                                   \
		const char *h_ = (hay), *n_ = (needle);                        \
		if (h_ == NULL || strstr(h_, n_) == NULL)                      \
			h_fail(__FILE__, __LINE__,                             \
			    "%s contains \"%s\": got \"%s\"", #hay, n_,        \
			    h_ ? h_ : "(null)");                               \
	} while (0)

/* Runs one test function, printing its name and time. */
#define RUN(fn) h_run_test(#fn, fn)
void h_run_test(const char *name, void (*fn)(void));

/* ---- processes ---- */

/* A loopback TCP port that was free a moment ago. */
int h_free_port(void);

/* A new empty temporary directory (malloc'd path); h_rm_rf removes it. */
char *h_tmpdir(const char *tag);
void h_rm_rf(const char *path);

/* The path of a built program: $ORCH_BIN_DIR/name (malloc'd). */
char *h_bin(const char *name);

/* Starts argv[0] with stdout and stderr appended to log_path (or inherited
 * when NULL).  Returns the pid; fails the test when it cannot.  With
 * ORCH_VALGRIND=1 in the environment, orch-manager and orch-agent run
 * under valgrind memcheck, which makes them exit 99 on any memory error
 * or definite leak (see h_valgrind()). */
pid_t h_spawn(char *const argv[], const char *log_path);

/* True when ORCH_VALGRIND=1: the daemons run under valgrind, many times
 * slower, and a clean stop must also be free of memory errors. */
bool h_valgrind(void);

/* Waits up to timeout_ms for pid to exit.  Returns its wait status, or -1
 * on timeout. */
int h_wait_pid(pid_t pid, int timeout_ms);

/* Sends sig to pid (a process this test started) and reaps it.  Returns
 * its wait status, or -1 when it had to be killed after 10 s. */
int h_kill(pid_t pid, int sig);

/* Runs argv to completion (at most timeout_ms), capturing stdout and
 * stderr.  Returns the exit code (-1 when killed or timed out). */
int h_run(char *const argv[], char **out /* OUT */, char **errout /* OUT */,
    int timeout_ms);

/* Runs orchctl --addr addr args... (args NULL-terminated, at most 20)
 * to completion within 15 s, like h_run. */
int h_orchctl(const char *addr, char **out /* OUT */, char **errout /* OUT */,
    const char *const *args);

/* Polls cond(arg) every few milliseconds until it is true or timeout_ms
 * passes.  Returns whether it became true. */
bool h_wait_until(bool (*cond)(void *), void *arg, int timeout_ms);

/* ---- HTTP over raw sockets ---- */

/* Connects to 127.0.0.1:port (TCP_NODELAY: each send leaves at once).
 * Returns the fd or -1. */
int h_connect(int port);

/* Writes all of buf.  Returns 0 or -1. */
int h_send_all(int fd, const void *buf, size_t len);

/* Reads one HTTP/1.1 response (Content-Length or until close) within
 * timeout_ms.  Returns the status or -1; *body (OUT, malloc'd, may be NULL
 * when not wanted) holds the body, its chunks joined when it is chunked
 * (h_dechunk(): what came of it).  *head (OUT, optional) the head, and
 * after it the trailer fields of a chunked body. */
int h_read_response(int fd, char **body, char **head, int timeout_ms);

/*
 * Decodes the chunked body raw (len bytes, what follows the head),
 * strictly (lowercase hexadecimal sizes, no extensions, CRLFs where they
 * belong: what the gateway sends), failing the test on anything else.
 * *body (OUT, malloc'd, NUL-terminated) holds the data of the whole
 * chunks that came, *blen (OUT) its length; trailers (OUT, tlen bytes)
 * the trailer field lines, each ending in CRLF ("" when none).  Returns
 * true when the body is whole: its last chunk and the empty line after
 * the trailers came; false when it was cut or is still arriving.
 */
bool h_dechunk(const char *raw, size_t len, char **body /* OUT */,
    size_t *blen /* OUT */, char *trailers /* OUT */, size_t tlen);

/* One request on a new connection with Connection: close.  body may be
 * NULL.  Returns the status, or -1 when the server cannot be reached. */
int h_http(int port, const char *method, const char *path, const char *body,
    char **resp /* OUT, malloc'd, may be NULL */);

/* h_http() with extra header lines (each ending in CRLF; NULL for none),
 * and the answer's head in *head (OUT, malloc'd, may be NULL when not
 * wanted). */
int h_http_ex(int port, const char *method, const char *path,
    const char *headers, const char *body, char **resp /* OUT */,
    char **head /* OUT */);

/* Reads a whole file (malloc'd, NUL-terminated) or NULL. */
char *h_read_file(const char *path);

/* Prints the last lines (at most) of the file at path to stderr, headed
 * by what: a daemon's log when a test fails.  Nothing when unreadable. */
void h_tail_file(const char *what, const char *path, int lines);

/* The resident memory of pid (a process this test started), in KiB;
 * fails the test when /proc does not say. */
long h_rss_kib(pid_t pid);

#endif
