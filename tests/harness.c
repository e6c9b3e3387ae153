#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "crowd.h"

void
h_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	exit(1);
}

void
h_run_test(const char *name, void (*fn)(void))
{
	int64_t t0 = orch_mono_ms();

	fprintf(stderr, "-- %s\n", name);
	fn();
	fprintf(stderr, "ok %s (%lld ms)\n", name,
	    (long long)(orch_mono_ms() - t0));
}

int
h_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int fd, port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT(fd >= 0);
	ASSERT(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	ASSERT(getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

char *
h_tmpdir(const char *tag)
{
	char tmpl[256];
	char *p;

	snprintf(tmpl, sizeof(tmpl), "/tmp/orch-test-%s-XXXXXX", tag);
	p = mkdtemp(tmpl);
	ASSERT(p != NULL);
	return strdup(p);
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
h_rm_rf(const char *path)
{
	if (path != NULL)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *
h_bin(const char *name)
{
	const char *dir = getenv("ORCH_BIN_DIR");
	char buf[4096];

	if (dir == NULL)
		dir = "build/bin";
	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return strdup(buf);
}

/* Every process started, so that a failing test leaves none behind. */
static pid_t spawned[64];

static void
kill_spawned(void)
{
	for (size_t i = 0; i < sizeof(spawned) / sizeof(spawned[0]); i++) {
		if (spawned[i] > 0) {
			kill(spawned[i], SIGKILL);
			waitpid(spawned[i], NULL, 0);
			spawned[i] = 0;
		}
	}
}

static void
spawned_set(pid_t old, pid_t new)
{
	static bool registered;

	if (!registered) {
		atexit(kill_spawned);
		registered = true;
	}
	for (size_t i = 0; i < sizeof(spawned) / sizeof(spawned[0]); i++) {
		if (spawned[i] == old) {
			spawned[i] = new;
			return;
		}
	}
}

/* Whether argv[0] is one of orch's daemons, which ORCH_VALGRIND wraps. */
static bool
is_daemon(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base != NULL ? base + 1 : path;
	return strcmp(base, "orch-manager") == 0 ||
	    strcmp(base, "orch-agent") == 0;
}

bool
h_valgrind(void)
{
	const char *v = getenv("ORCH_VALGRIND");

	return v != NULL && strcmp(v, "1") == 0;
}

/* The valgrind command line a daemon runs under with ORCH_VALGRIND=1:
 * any error, and a definite leak at exit, makes it exit 99 instead of
 * 0, which the tests' checks of a clean stop catch. */
static const char *const valgrind_argv[] = {"valgrind", "--quiet",
    "--error-exitcode=99", "--leak-check=full",
    "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
    "--num-callers=30", NULL};

pid_t
h_spawn(char *const argv[], const char *log_path)
{
	pid_t pid = fork();

	ASSERT(pid >= 0);
	if (pid > 0) {
		spawned_set(0, pid);
		return pid;
	}
	if (log_path != NULL) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
	}
	if (h_valgrind() && is_daemon(argv[0])) {
		const char *vargv[64];
		size_t n = 0;

		for (size_t i = 0; valgrind_argv[i] != NULL; i++)
			vargv[n++] = valgrind_argv[i];
		for (size_t i = 0; argv[i] != NULL && n < 63; i++)
			vargv[n++] = argv[i];
		vargv[n] = NULL;
		execvp(vargv[0], (char *const *)vargv);
		fprintf(stderr, "exec valgrind: %s\n", strerror(errno));
		_exit(127);
	}
	execv(argv[0], argv);
	fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int
h_wait_pid(pid_t pid, int timeout_ms)
{
	int64_t deadline = orch_mono_ms() + timeout_ms;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0)
			return -1;
		if (orch_mono_ms() >= deadline)
			return -1;
		poll(NULL, 0, 5);
	}
}

int
h_kill(pid_t pid, int sig)
{
	int st;

	if (pid <= 0)
		return -1;
	kill(pid, sig);
	/* Under valgrind the exit's leak check takes a while. */
	if ((st = h_wait_pid(pid, h_valgrind() ? 120000 : 10000)) == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	spawned_set(pid, 0);
	return st;
}

/* Reads fd until EOF into a malloc'd string. */
static char *
slurp_fd(int fd)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	ssize_t n;

	ASSERT(buf != NULL);
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
			ASSERT(buf != NULL);
		}
	}
	buf[len] = '\0';
	return buf;
}

int
h_run(char *const argv[], char **out, char **errout, int timeout_ms)
{
	char opath[] = "/tmp/orch-run-out-XXXXXX";
	char epath[] = "/tmp/orch-run-err-XXXXXX";
	int ofd = mkstemp(opath), efd = mkstemp(epath);
	pid_t pid;
	int st, code = -1;

	ASSERT(ofd >= 0 && efd >= 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		dup2(ofd, STDOUT_FILENO);
		dup2(efd, STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	st = h_wait_pid(pid, timeout_ms);
	if (st == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	} else if (WIFEXITED(st)) {
		code = WEXITSTATUS(st);
	}
	lseek(ofd, 0, SEEK_SET);
	lseek(efd, 0, SEEK_SET);
	if (out != NULL)
		*out = slurp_fd(ofd);
	if (errout != NULL)
		*errout = slurp_fd(efd);
	close(ofd);
	close(efd);
	unlink(opath);
	unlink(epath);
	return code;
}

int
h_orchctl(const char *addr, char **out, char **errout, const char *const *args)
{
	char *bin = h_bin("orchctl");
	char *argv[24] = {bin, "--addr", (char *)addr};
	int n = 3, code;

	for (int i = 0; args[i] != NULL; i++) {
		ASSERT(n < 23);
		argv[n++] = (char *)args[i];
	}
	argv[n] = NULL;
	code = h_run(argv, out, errout, 15000);
	free(bin);
	return code;
}

bool
h_wait_until(bool (*cond)(void *), void *arg, int timeout_ms)
{
	int64_t deadline = orch_mono_ms() + timeout_ms;

	for (;;) {
		if (cond(arg))
			return true;
		if (orch_mono_ms() >= deadline)
			return false;
		poll(NULL, 0, 10);
	}
}

int
h_connect(int port)
{
	return crowd_connect(port);
}

int
h_send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads exactly one byte within the deadline: 1, 0 on EOF, -1 on error. */
static int
read_byte(int fd, char *c, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - orch_mono_ms();
		ssize_t n;

		if (left <= 0)
			return -1;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = recv(fd, c, 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -1 : (int)n;
	}
}

bool
h_dechunk(const char *raw, size_t len, char **body, size_t *blen,
    char *trailers, size_t tlen)
{
	const char *c = raw, *end = raw + len, *crlf;
	char *b = malloc(len + 1);
	size_t o = 0;
	bool whole = false;

	ASSERT(b != NULL && tlen > 0);
	trailers[0] = '\0';
	while ((crlf = memmem(c, (size_t)(end - c), "\r\n", 2)) != NULL) {
		size_t n = 0;

		if (crlf == c || crlf - c > 16)
			h_fail(__FILE__, __LINE__, "bad chunk head: \"%.*s\"",
			    (int)(crlf - c < 40 ? crlf - c : 40), c);
		for (const char *p = c; p < crlf; p++) {
			if (strchr("0123456789abcdef", *p) == NULL || *p == 0)
				h_fail(__FILE__, __LINE__,
				    "bad chunk size: \"%.*s\"", (int)(crlf - c),
				    c);
			n = n * 16 +
			    (size_t)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
		}
		c = crlf + 2;
		if (n == 0) {
			/* Trailer fields, then the empty line. */
			while ((crlf = memmem(
			            c, (size_t)(end - c), "\r\n", 2)) != NULL &&
			    crlf != c) {
				size_t k = (size_t)(crlf + 2 - c),
				       t = strlen(trailers);

				ASSERT(t + k < tlen);
				memcpy(trailers + t, c, k);
				trailers[t + k] = '\0';
				c = crlf + 2;
			}
			whole = crlf != NULL;
			break;
		}
		if ((size_t)(end - c) < n + 2)
			break; /* not all here */
		if (memcmp(c + n, "\r\n", 2) != 0)
			h_fail(__FILE__, __LINE__,
			    "a chunk of %zu bytes is not followed by CRLF", n);
		memcpy(b + o, c, n);
		o += n;
		c += n + 2;
	}
	b[o] = '\0';
	*body = b;
	*blen = o;
	return whole;
}

int
h_read_response(int fd, char **body, char **head, int timeout_ms)
{
	int64_t deadline = orch_mono_ms() + timeout_ms;
	size_t hcap = 65536, hlen = 0, blen = 0, bcap;
	char *h = malloc(hcap), *b, c;
	long long clen = -1;
	int status = -1, r;
	const char *p;

	ASSERT(h != NULL);
	/* Byte by byte, so that a pipelined next response stays unread. */
	while (hlen < 4 || memcmp(h + hlen - 4, "\r\n\r\n", 4) != 0) {
		if (hlen + 1 >= hcap || read_byte(fd, &c, deadline) != 1) {
			free(h);
			return -1;
		}
		h[hlen++] = c;
	}
	h[hlen] = '\0';
	if (sscanf(h, "HTTP/1.%*d %d", &status) != 1) {
		free(h);
		return -1;
	}
	for (p = h; (p = strchr(p, '\n')) != NULL; p++) {
		if (strncasecmp(p + 1, "content-length:", 15) == 0)
			clen = strtoll(p + 16, NULL, 10);
	}
	/* Interim answers, 204 and 304 have no body. */
	if ((status >= 100 && status < 200) || status == 204 || status == 304)
		clen = 0;
	bcap = clen >= 0 ? (size_t)clen + 1 : 65536;
	b = malloc(bcap);
	ASSERT(b != NULL);
	while (clen < 0 || blen < (size_t)clen) {
		ssize_t n;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - orch_mono_ms();

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
			if (clen < 0)
				break;
			free(b);
			free(h);
			return -1;
		}
		if (blen + 1 >= bcap) {
			bcap *= 2;
			b = realloc(b, bcap);
			ASSERT(b != NULL);
		}
		n = recv(fd, b + blen,
		    clen >= 0 ? (size_t)clen - blen : bcap - blen - 1, 0);
		if (n <= 0)
			break;
		blen += (size_t)n;
	}
	b[blen] = '\0';
	if (clen < 0 && strcasestr(h, "\r\nTransfer-Encoding: chunked\r\n")) {
		char *dec, tr[4096];
		size_t dlen;

		(void)h_dechunk(b, blen, &dec, &dlen, tr, sizeof(tr));
		free(b);
		b = dec;
		h = realloc(h, hlen + strlen(tr) + 1);
		ASSERT(h != NULL);
		memcpy(h + hlen, tr, strlen(tr) + 1);
	}
	r = status;
	if (body != NULL)
		*body = b;
	else
		free(b);
	if (head != NULL)
		*head = h;
	else
		free(h);
	return r;
}

int
h_http_ex(int port, const char *method, const char *path, const char *headers,
    const char *body, char **resp, char **head_out)
{
	char head[2048];
	size_t blen = body != NULL ? strlen(body) : 0;
	int fd = h_connect(port), st;

	if (fd < 0)
		return -1;
	snprintf(head, sizeof(head),
	    "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
	    "%sContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
	    method, path, headers != NULL ? headers : "", blen);
	if (h_send_all(fd, head, strlen(head)) != 0 ||
	    (blen > 0 && h_send_all(fd, body, blen) != 0)) {
		close(fd);
		return -1;
	}
	st = h_read_response(fd, resp, head_out, 10000);
	close(fd);
	return st;
}

int
h_http(int port, const char *method, const char *path, const char *body,
    char **resp)
{
	return h_http_ex(port, method, path, NULL, body, resp, NULL);
}

char *
h_read_file(const char *path)
{
	int fd = open(path, O_RDONLY);
	char *s;

	if (fd < 0)
		return NULL;
	s = slurp_fd(fd);
	close(fd);
	return s;
}

long
h_rss_kib(pid_t pid)
{
	char path[64], *s, *p;
	long kib = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	s = h_read_file(path);
	if (s != NULL && (p = strstr(s, "VmRSS:")) != NULL)
		kib = strtol(p + 6, NULL, 10);
	free(s);
	if (kib < 0)
		h_fail(__FILE__, __LINE__, "no VmRSS in %s", path);
	return kib;
}

/* ---- the manager as a process ---- */

#include "manager_proc.h"

static bool
healthz_ok(void *arg)
{
	struct mgr *m = arg;

	return h_http(m->http_port, "GET", "/healthz", NULL, NULL) == 200;
}

static void
mgr_launch(struct mgr *m, const char *const *extra)
{
	char http[64], pub[64];
	char *bin = h_bin("orch-manager");
	const char *argv[32];
	int n = 0;

	snprintf(http, sizeof(http), "127.0.0.1:%d", m->http_port);
	snprintf(pub, sizeof(pub), "tcp://127.0.0.1:%d", m->pub_port);
	argv[n++] = bin;
	argv[n++] = "--http";
	argv[n++] = http;
	argv[n++] = "--rpc";
	argv[n++] = m->rpc_url;
	argv[n++] = "--pub";
	argv[n++] = pub;
	argv[n++] = "--data";
	argv[n++] = m->data;
	for (int i = 0; extra != NULL && extra[i] != NULL && n < 31; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	m->pid = h_spawn((char *const *)argv, m->log);
	free(bin);
	if (!h_wait_until(healthz_ok, m, h_valgrind() ? 120000 : 15000)) {
		char *log = h_read_file(m->log);
		fprintf(stderr, "manager log:\n%s\n", log != NULL ? log : "");
		free(log);
		h_fail(
		    __FILE__, __LINE__, "orch-manager did not become healthy");
	}
}

void
mgr_start(struct mgr *m, const char *const *extra)
{
	if (m->data == NULL)
		m->data = h_tmpdir("mgr");
	m->http_port = h_free_port();
	m->rpc_port = h_free_port();
	m->pub_port = h_free_port();
	snprintf(
	    m->rpc_url, sizeof(m->rpc_url), "tcp://127.0.0.1:%d", m->rpc_port);
	snprintf(m->addr, sizeof(m->addr), "http://127.0.0.1:%d", m->http_port);
	snprintf(m->log, sizeof(m->log), "%s.log", m->data);
	mgr_launch(m, extra);
}

void
mgr_restart(struct mgr *m, const char *const *extra)
{
	mgr_launch(m, extra);
}

int
mgr_stop(struct mgr *m, int sig)
{
	int st = -1;

	if (m->pid > 0)
		st = h_kill(m->pid, sig);
	m->pid = 0;
	return st;
}

void
mgr_stop_clean(struct mgr *m)
{
	int st = mgr_stop(m, SIGTERM);

	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char *log = h_read_file(m->log);

		/* The sanitizer's or valgrind's report is in there. */
		fprintf(stderr, "manager log:\n%s\n", log != NULL ? log : "");
		free(log);
	}
	ASSERT(st != -1 && WIFEXITED(st));
	ASSERT_INT_EQ(WEXITSTATUS(st), 0);
}

void
mgr_destroy(struct mgr *m)
{
	mgr_stop(m, SIGKILL);
	if (m->data != NULL) {
		h_rm_rf(m->data);
		unlink(m->log);
	}
	free(m->data);
	m->data = NULL;
}

void
h_tail_file(const char *what, const char *path, int lines)
{
	char *s = h_read_file(path), *p;
	int n = 0;

	if (s == NULL)
		return;
	for (p = s + strlen(s); p > s; p--) {
		if (p[-1] == '\n' && ++n > lines)
			break;
	}
	fprintf(stderr, "---- %s (%s), last lines:\n%s\n", what, path, p);
	free(s);
}
