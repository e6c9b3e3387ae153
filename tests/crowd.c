/*
 * crowd.c: many slow HTTP clients on loopback (see crowd.h).
 *
 * One thread does everything after the connects: it polls every
 * connection still open for the server's bytes, and every tick sends the
 * next byte of each trickling connection's head.  A send that fails (the
 * server closed) is not a close yet: the answer the server sent before
 * may still be waiting to be read, and is read first.
 */
#include "crowd.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"

/* A head that never ends: after the prefix, one more header byte a
 * tick. */
static const char trickle_head[] =
    "GET /tasks HTTP/1.1\r\nHost: crowd\r\nX-Slow: ";
/* Enough of an answer to tell its status line. */
#define SEEN_MAX 32

enum member_kind { M_IDLE, M_TRICKLE };

struct member {
	int fd;
	enum member_kind kind;
	bool closed;
	size_t sent; /* bytes of the head sent */
	size_t seen_len;
	char seen[SEEN_MAX + 1]; /* the first bytes the server sent */
};

struct crowd {
	struct member *m;
	int n;
	int tick_ms;
	int connect_fails;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu; /* guards closed, seen and stop */
	bool stop;
	struct pollfd *pfd; /* the thread's */
	int *idx;
};

int
crowd_connect(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Reads what the server sent m; marks it closed at EOF or an error. */
static void
member_read(struct crowd *c, struct member *m)
{
	char buf[512];

	for (;;) {
		ssize_t n = recv(m->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0) {
			size_t take = (size_t)n;

			pthread_mutex_lock(&c->mu);
			if (take > SEEN_MAX - m->seen_len)
				take = SEEN_MAX - m->seen_len;
			memcpy(m->seen + m->seen_len, buf, take);
			m->seen_len += take;
			m->seen[m->seen_len] = '\0';
			pthread_mutex_unlock(&c->mu);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		/* EOF, or a reset after what was read. */
		pthread_mutex_lock(&c->mu);
		m->closed = true;
		pthread_mutex_unlock(&c->mu);
		return;
	}
}

static void
crowd_tick(struct crowd *c)
{
	const size_t prefix = sizeof(trickle_head) - 1;

	for (int i = 0; i < c->n; i++) {
		struct member *m = &c->m[i];
		char b;

		if (m->kind != M_TRICKLE || m->closed)
			continue;
		b = m->sent < prefix ? trickle_head[m->sent] : 'a';
		/* A failure means the server closed: its answer is read by
		 * the poll. */
		if (send(m->fd, &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) {
			pthread_mutex_lock(&c->mu);
			m->sent++;
			pthread_mutex_unlock(&c->mu);
		}
	}
}

static void *
crowd_main(void *arg)
{
	struct crowd *c = arg;
	int64_t next_tick = orch_mono_ms() + c->tick_ms;

	for (;;) {
		int np = 0, left;
		int64_t now;

		pthread_mutex_lock(&c->mu);
		if (c->stop) {
			pthread_mutex_unlock(&c->mu);
			break;
		}
		pthread_mutex_unlock(&c->mu);
		for (int i = 0; i < c->n; i++) {
			if (c->m[i].closed)
				continue;
			c->pfd[np].fd = c->m[i].fd;
			c->pfd[np].events = POLLIN;
			c->pfd[np].revents = 0;
			c->idx[np++] = i;
		}
		now = orch_mono_ms();
		left = next_tick > now ? (int)(next_tick - now) : 0;
		/* Short waits, so that a stop is seen soon. */
		if (left > 100)
			left = 100;
		if (poll(c->pfd, (nfds_t)np, left) > 0) {
			for (int k = 0; k < np; k++) {
				if (c->pfd[k].revents != 0)
					member_read(c, &c->m[c->idx[k]]);
			}
		}
		if (orch_mono_ms() >= next_tick) {
			crowd_tick(c);
			next_tick += c->tick_ms;
		}
	}
	return NULL;
}

/* Raises the soft limit on open files to what n connections need, up
 * to the hard limit.  Returns 0, or -1 when it cannot reach it. */
static int
fd_limit(int n)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)n + 128;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur >= want)
		return 0;
	if (rl.rlim_max < want) {
		errno = EMFILE;
		return -1;
	}
	rl.rlim_cur = want;
	return setrlimit(RLIMIT_NOFILE, &rl);
}

int
crowd_start(
    int port, int n_idle, int n_trickle, int tick_ms, struct crowd **out)
{
	struct crowd *c;
	int n = n_idle + n_trickle;

	*out = NULL;
	if (fd_limit(n) != 0)
		return -1;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	pthread_mutex_init(&c->mu, NULL);
	c->tick_ms = tick_ms > 0 ? tick_ms : 200;
	c->m = calloc((size_t)(n > 0 ? n : 1), sizeof(*c->m));
	c->pfd = calloc((size_t)(n > 0 ? n : 1), sizeof(*c->pfd));
	c->idx = calloc((size_t)(n > 0 ? n : 1), sizeof(*c->idx));
	if (c->m == NULL || c->pfd == NULL || c->idx == NULL) {
		crowd_stop(c);
		errno = ENOMEM;
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct member *m = &c->m[c->n];

		m->kind = i < n_idle ? M_IDLE : M_TRICKLE;
		if ((m->fd = crowd_connect(port)) < 0) {
			c->connect_fails++;
			continue;
		}
		c->n++;
	}
	if (pthread_create(&c->thread, NULL, crowd_main, c) != 0) {
		crowd_stop(c);
		errno = EAGAIN;
		return -1;
	}
	c->started = true;
	*out = c;
	return 0;
}

void
crowd_counts(struct crowd *c, struct crowd_counts *out)
{
	memset(out, 0, sizeof(*out));
	out->connect_fails = c->connect_fails;
	pthread_mutex_lock(&c->mu);
	for (int i = 0; i < c->n; i++) {
		const struct member *m = &c->m[i];
		bool got408 = strncmp(m->seen, "HTTP/1.1 408 ", 13) == 0;

		out->trickle_bytes += (long long)m->sent;
		if (!m->closed) {
			/* Answered but still open: counted as an answer. */
			if (m->seen_len > 0)
				out->answered++;
			else if (m->kind == M_IDLE)
				out->idle_open++;
			else
				out->trickle_open++;
		} else if (m->kind == M_IDLE && m->seen_len == 0) {
			out->idle_closed++;
		} else if (m->kind == M_TRICKLE && got408) {
			out->trickle_408++;
		} else if (m->seen_len > 0) {
			out->answered++;
		} else {
			out->other_closed++;
		}
	}
	pthread_mutex_unlock(&c->mu);
}

void
crowd_stop(struct crowd *c)
{
	if (c == NULL)
		return;
	if (c->started) {
		pthread_mutex_lock(&c->mu);
		c->stop = true;
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->thread, NULL);
	}
	for (int i = 0; i < c->n; i++)
		close(c->m[i].fd);
	pthread_mutex_destroy(&c->mu);
	free(c->m);
	free(c->pfd);
	free(c->idx);
	free(c);
}

int
crowd_call(
    int fd, const char *req, size_t len, char *buf, size_t cap, int timeout_ms)
{
	int64_t deadline = orch_mono_ms() + timeout_ms;
	size_t got = 0, want = 0, off = 0;
	int status = -1;

	while (off < len) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	/* Into buf while it has room; past it, into a scratch buffer that
	 * only counts. */
	for (;;) {
		char scratch[4096], *dst = got + 1 < cap ? buf + got : scratch;
		size_t room = got + 1 < cap ? cap - 1 - got : sizeof(scratch);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - orch_mono_ms();
		ssize_t n;

		if (want > 0 && got >= want)
			break;
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		if ((n = recv(fd, dst, room, 0)) <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
		if (want == 0) {
			const char *end, *cl;
			size_t inbuf = got < cap ? got : cap - 1;

			buf[inbuf] = '\0';
			if ((end = strstr(buf, "\r\n\r\n")) == NULL)
				continue;
			if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 ||
			    (cl = strstr(buf, "Content-Length: ")) == NULL ||
			    cl > end)
				return -1;
			want = (size_t)(end + 4 - buf) +
			    (size_t)strtoull(cl + 16, NULL, 10);
		}
	}
	buf[got < cap ? got : cap - 1] = '\0';
	return status;
}
