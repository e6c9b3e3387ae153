#include "docker_client.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "error.h"
#include "log.h"

struct orch_docker_client {
	char *socket;
	char prefix[16]; /* "/v1.41", or "" before negotiation */
};

/* What the write callback does with the bytes of an answer. */
enum sink_mode {
	SINK_BODY,    /* collect them, up to ORCH_DOCKER_BODY_MAX */
	SINK_UNKNOWN, /* a stream whose status is not known yet */
	SINK_LINES,   /* a 2xx stream: cut into lines for fn */
	SINK_CHUNKS,  /* a 2xx stream: handed to chunk as it comes */
};

/* One transfer's receiving side. */
struct sink {
	CURL *h;
	enum sink_mode mode;
	struct orch_buf body;

	orch_docker_line_fn fn;
	orch_docker_chunk_fn chunk; /* instead of fn: raw bytes */
	bool ticks;                 /* chunk also hears of quiet moments */
	bool opened;                /* chunk was told the stream is open */
	void *arg;
	char *line; /* ORCH_DOCKER_LINE_MAX + 1 bytes */
	size_t line_len;
	bool line_nomem; /* line could not be allocated */
	bool line_skip;  /* inside a line that was too long */
	bool fn_stopped; /* fn asked to end the stream */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_once_rc = CURLE_FAILED_INIT;

static void
curl_init_once(void)
{
	curl_once_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void
orch_docker_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	size_t n, i;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	for (i = 0; err[i] != '\0'; i++) {
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
			err[i] = ' ';
	}
	/* Walk back over a trailing lead byte and its continuation bytes when
	 * the character they start did not fit whole. */
	n = i;
	i = n;
	while (i > 0 && ((unsigned char)err[i - 1] & 0xc0) == 0x80)
		i--;
	if (i > 0 && ((unsigned char)err[i - 1] & 0xc0) == 0xc0) {
		unsigned char lead = (unsigned char)err[i - 1];
		size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;

		if (n - (i - 1) < want)
			err[i - 1] = '\0';
	}
}

int
orch_docker_client_new(const char *socket_path, struct orch_docker_client **out)
{
	struct orch_docker_client *c;

	pthread_once(&curl_once, curl_init_once);
	if (curl_once_rc != CURLE_OK)
		return ORCH_ENOMEM;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return ORCH_ENOMEM;
	if ((c->socket = strdup(socket_path)) == NULL) {
		free(c);
		return ORCH_ENOMEM;
	}
	*out = c;
	return ORCH_OK;
}

void
orch_docker_client_free(struct orch_docker_client *c)
{
	if (c == NULL)
		return;
	free(c->socket);
	free(c);
}

const char *
orch_docker_client_socket(const struct orch_docker_client *c)
{
	return c->socket;
}

int
orch_docker_client_version_set(
    struct orch_docker_client *c, const char *version)
{
	int n;

	for (const char *p = version; *p != '\0'; p++) {
		if (!((*p >= '0' && *p <= '9') || *p == '.'))
			return ORCH_EINVAL;
	}
	n = snprintf(c->prefix, sizeof(c->prefix), "/v%s", version);
	if (n < 0 || (size_t)n >= sizeof(c->prefix)) {
		c->prefix[0] = '\0';
		return ORCH_EINVAL;
	}
	return ORCH_OK;
}

void
orch_docker_answer_free(struct orch_docker_answer *ans)
{
	if (ans == NULL)
		return;
	free(ans->body);
	ans->body = NULL;
	ans->len = 0;
	ans->status = 0;
}

/* Describes a body that is not JSON (an HTML error page from a proxy,
 * say) with its first bytes, only printable ASCII kept so that the
 * message is safe in logs and JSON. */
static void
answer_snippet(const struct orch_docker_answer *ans, char *buf, size_t len)
{
	char snip[81];
	size_t n = ans->len < sizeof(snip) - 1 ? ans->len : sizeof(snip) - 1;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)ans->body[i];

		snip[i] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
	}
	snip[n] = '\0';
	snprintf(buf, len, "(a non-JSON answer of %zu bytes: \"%s%s\")",
	    ans->len, snip, ans->len > n ? "..." : "");
}

void
orch_docker_answer_message(
    const struct orch_docker_answer *ans, char *buf, size_t len)
{
	json_t *j, *m;

	if (ans->body == NULL || ans->len == 0) {
		snprintf(buf, len, "(no message)");
		return;
	}
	j = json_loadb(ans->body, ans->len, 0, NULL);
	m = json_is_object(j) ? json_object_get(j, "message") : NULL;
	/* An empty message would leave "answered 500: " saying nothing. */
	if (json_is_string(m) && json_string_value(m)[0] != '\0')
		orch_docker_errf(buf, len, "%s", json_string_value(m));
	else if (json_is_string(m))
		snprintf(buf, len, "(an empty \"message\")");
	else if (j != NULL)
		snprintf(buf, len, "(a JSON answer without \"message\")");
	else
		answer_snippet(ans, buf, len);
	json_decref(j);
}

/* ---- receiving ---- */

/* Hands the line collected so far to fn, unless it is empty or was too
 * long.  Returns false when fn wants the stream to end. */
static bool
sink_line_end(struct sink *s)
{
	bool go_on = true;

	if (!s->line_skip) {
		/* Docker ends lines with "\r\n" on some endpoints. */
		while (s->line_len > 0 && s->line[s->line_len - 1] == '\r')
			s->line_len--;
		s->line[s->line_len] = '\0';
		if (s->line_len > 0 &&
		    s->fn(s->arg, s->line, s->line_len) != 0) {
			s->fn_stopped = true;
			go_on = false;
		}
	}
	s->line_len = 0;
	s->line_skip = false;
	return go_on;
}

static size_t
sink_lines(struct sink *s, const char *data, size_t n)
{
	const char *p = data, *end = data + n, *nl;
	size_t seg;

	if (s->line == NULL &&
	    (s->line = malloc(ORCH_DOCKER_LINE_MAX + 1)) == NULL) {
		s->line_nomem = true;
		return 0;
	}
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		seg = (size_t)((nl != NULL ? nl : end) - p);
		if (!s->line_skip) {
			if (seg > ORCH_DOCKER_LINE_MAX - s->line_len) {
				orch_warn("docker",
				    "dropped a streamed line longer "
				    "than %d bytes",
				    ORCH_DOCKER_LINE_MAX);
				s->line_skip = true;
				s->line_len = 0;
			} else {
				memcpy(s->line + s->line_len, p, seg);
				s->line_len += seg;
			}
		}
		if (nl == NULL)
			break;
		if (!sink_line_end(s))
			return 0;
		p = nl + 1;
	}
	return n;
}

/* Settles a stream's mode once its status is known (before any body
 * byte, and as soon as the head is in for a ticking stream, which may
 * stay silent), and tells a ticking stream's chunk that it is open.
 * Returns false when chunk wants it to end. */
static bool
sink_settle(struct sink *s)
{
	long code = 0;

	if (s->mode == SINK_UNKNOWN) {
		curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
		if (code == 0)
			return true; /* no head yet */
		s->mode = code < 200 || code > 299 ? SINK_BODY
		    : s->chunk != NULL             ? SINK_CHUNKS
		                                   : SINK_LINES;
	}
	if (s->mode == SINK_CHUNKS && s->ticks && !s->opened) {
		s->opened = true;
		if (s->chunk(s->arg, NULL, 0) != 0) {
			s->fn_stopped = true;
			return false;
		}
	}
	return true;
}

static size_t
sink_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	/* The status line has been parsed before any body byte. */
	if (!sink_settle(s))
		return 0;
	if (s->mode == SINK_CHUNKS) {
		if (s->chunk(s->arg, data, n) != 0) {
			s->fn_stopped = true;
			return 0;
		}
		return n;
	}
	if (s->mode == SINK_LINES)
		return sink_lines(s, data, n);
	return orch_buf_append(&s->body, data, n);
}

/* A quiet moment of a ticking stream (no byte within a second, or after
 * a read): its chunk hears of it, so that it can give up or say it
 * lives.  Returns false when chunk wants the stream to end. */
static bool
sink_tick(struct sink *s)
{
	if (!s->ticks)
		return true;
	if (!sink_settle(s))
		return false;
	if (s->mode != SINK_CHUNKS)
		return true;
	if (s->chunk(s->arg, NULL, 0) != 0) {
		s->fn_stopped = true;
		return false;
	}
	return true;
}

/* ---- sending ---- */

void
orch_docker_client_call_name(const struct orch_docker_client *c,
    const char *method, const char *path, char *buf, size_t len)
{
	size_t plen = strcspn(path, "?");

	orch_docker_errf(buf, len, "docker %s %s%.*s", method, c->prefix,
	    plen > 256 ? 256 : (int)plen, path);
}

/* Translates a failed transfer into an orch_err code and a message. */
static int
call_error(const struct orch_docker_client *c, const char *name, CURL *h,
    CURLcode cc, const struct sink *s, const char *errbuf, long timeout_s,
    char *err, size_t errlen)
{
	const char *msg = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc);
	long oserr = 0;

	if (s->body.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		orch_docker_errf(err, errlen,
		    "%s: the answer is larger than "
		    "%ld MiB",
		    name, ORCH_DOCKER_BODY_MAX / (1024 * 1024));
		return ORCH_EPROTO;
	}
	if (s->body.nomem || s->line_nomem || cc == CURLE_OUT_OF_MEMORY) {
		orch_docker_errf(err, errlen, "%s: out of memory", name);
		return ORCH_ENOMEM;
	}
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		if (h != NULL &&
		    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr) ==
		        CURLE_OK &&
		    oserr != 0)
			msg = strerror((int)oserr);
		orch_docker_errf(err, errlen,
		    "%s: cannot reach the Docker "
		    "daemon at %s: %s",
		    name, c->socket, msg);
		return ORCH_EUNAVAIL;
	case CURLE_OPERATION_TIMEDOUT:
		orch_docker_errf(err, errlen,
		    "%s: no complete answer within "
		    "%ld s",
		    name,
		    timeout_s > 0 ? timeout_s
		                  : (long)ORCH_DOCKER_CONNECT_TIMEOUT);
		return ORCH_ETIMEDOUT;
	case CURLE_PARTIAL_FILE:
		orch_docker_errf(err, errlen,
		    "%s: the answer was cut short "
		    "(%s)",
		    name, msg);
		return ORCH_EPROTO;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_CONTENT_ENCODING:
		orch_docker_errf(
		    err, errlen, "%s: not an HTTP answer (%s)", name, msg);
		return ORCH_EPROTO;
	case CURLE_GOT_NOTHING:
		orch_docker_errf(err, errlen,
		    "%s: the daemon closed the "
		    "connection without answering",
		    name);
		return ORCH_EIO;
	default:
		orch_docker_errf(err, errlen, "%s: %s", name, msg);
		return ORCH_EIO;
	}
}

/* Sets every option of one request on a new handle. */
static CURLcode
call_setup(const struct orch_docker_client *c, CURL *h, const char *method,
    const char *url, struct curl_slist *hdrs, const char *body, long timeout_s,
    struct sink *s, char *errbuf)
{
	CURLcode cc;

	if ((cc = curl_easy_setopt(h, CURLOPT_URL, url)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->socket)) !=
	        CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf)) !=
	        CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_USERAGENT,
	         "orch-agent/" ORCH_VERSION)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT,
	         (long)ORCH_DOCKER_CONNECT_TIMEOUT)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s)) !=
	        CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write)) !=
	        CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_WRITEDATA, s)) != CURLE_OK)
		return cc;
	if (strcmp(method, "POST") == 0) {
		/* An empty body still needs POSTFIELDS, or curl reads stdin. */
		if ((cc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE,
		         (long)(body != NULL ? strlen(body) : 0))) !=
		        CURLE_OK ||
		    (cc = curl_easy_setopt(h, CURLOPT_POSTFIELDS,
		         body != NULL ? body : "")) != CURLE_OK)
			return cc;
	} else if (strcmp(method, "GET") != 0) {
		if ((cc = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method)) !=
		    CURLE_OK)
			return cc;
	}
	return CURLE_OK;
}

/* Runs h on a multi handle that cancel can wake, so that a stream that
 * may stay silent for hours still stops at once. */
static CURLcode
call_multi(
    CURL *h, struct orch_docker_cancel *cancel, struct sink *s, bool *cancelled)
{
	CURLM *m;
	CURLMsg *msg;
	CURLcode cc = CURLE_OK;
	int running = 1, left;
	bool added = false;

	*cancelled = false;
	if ((m = curl_multi_init()) == NULL)
		return CURLE_OUT_OF_MEMORY;
	if (curl_multi_add_handle(m, h) != CURLM_OK) {
		cc = CURLE_OUT_OF_MEMORY;
		goto out;
	}
	added = true;
	if (cancel != NULL) {
		pthread_mutex_lock(&cancel->mu);
		if (cancel->stopped)
			*cancelled = true;
		else
			cancel->multi = m;
		pthread_mutex_unlock(&cancel->mu);
	}
	while (!*cancelled) {
		if (curl_multi_perform(m, &running) != CURLM_OK) {
			cc = CURLE_RECV_ERROR;
			break;
		}
		if (running == 0)
			break;
		/* After each read and each quiet second. */
		if (!sink_tick(s))
			break;
		if (curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK) {
			cc = CURLE_RECV_ERROR;
			break;
		}
		if (cancel != NULL && orch_docker_cancel_stopped(cancel))
			*cancelled = true;
	}
	while ((msg = curl_multi_info_read(m, &left)) != NULL) {
		if (msg->msg == CURLMSG_DONE)
			cc = msg->data.result;
	}
	if (cancel != NULL) {
		/* Cleared under the lock, so fire never wakes a freed handle.
		 */
		pthread_mutex_lock(&cancel->mu);
		cancel->multi = NULL;
		pthread_mutex_unlock(&cancel->mu);
	}
out:
	if (added)
		curl_multi_remove_handle(m, h);
	curl_multi_cleanup(m);
	return cc;
}

/* The shared body of call and the streams: fn and chunk NULL for an
 * ordinary call. */
static int
call_run(struct orch_docker_client *c, const char *method, const char *path,
    const char *body, long timeout_s, struct orch_docker_cancel *cancel,
    orch_docker_line_fn fn, orch_docker_chunk_fn chunk, bool ticks, void *arg,
    struct orch_docker_answer *ans, char *err, size_t errlen)
{
	struct sink s = {.mode = SINK_BODY};
	struct curl_slist *hdrs = NULL, *h2;
	char errbuf[CURL_ERROR_SIZE] = "";
	char name[320];
	char *url = NULL;
	size_t urllen;
	CURLcode cc;
	bool cancelled = false;
	int rc = ORCH_ENOMEM;

	memset(ans, 0, sizeof(*ans));
	orch_buf_init(&s.body, (size_t)ORCH_DOCKER_BODY_MAX);
	orch_docker_client_call_name(c, method, path, name, sizeof(name));
	/* The host part is ignored on a unix socket but needed by HTTP. */
	urllen = strlen("http://docker") + strlen(c->prefix) + strlen(path) + 1;
	if ((url = malloc(urllen)) == NULL)
		goto nomem;
	snprintf(url, urllen, "http://docker%s%s", c->prefix, path);
	if ((s.h = curl_easy_init()) == NULL)
		goto nomem;
	/* "Expect:" stops curl from waiting for a 100 Continue on big bodies.
	 */
	if ((h2 = curl_slist_append(hdrs, "Expect:")) == NULL)
		goto nomem;
	hdrs = h2;
	if (body != NULL) {
		if ((h2 = curl_slist_append(
		         hdrs, "Content-Type: application/json")) == NULL)
			goto nomem;
		hdrs = h2;
	}
	if (fn != NULL || chunk != NULL) {
		s.mode = SINK_UNKNOWN;
		s.fn = fn;
		s.chunk = chunk;
		s.ticks = chunk != NULL && ticks;
		s.arg = arg;
	} else if (curl_easy_setopt(s.h, CURLOPT_MAXFILESIZE_LARGE,
	               (curl_off_t)ORCH_DOCKER_BODY_MAX) != CURLE_OK) {
		/* Refuses an announced oversized body before reading it. */
		goto nomem;
	}
	if ((cc = call_setup(c, s.h, method, url, hdrs, body, timeout_s, &s,
	         errbuf)) != CURLE_OK) {
		orch_docker_errf(
		    err, errlen, "%s: %s", name, curl_easy_strerror(cc));
		rc = cc == CURLE_OUT_OF_MEMORY ? ORCH_ENOMEM : ORCH_EINTERNAL;
		goto out;
	}
	if (fn != NULL || chunk != NULL)
		cc = call_multi(s.h, cancel, &s, &cancelled);
	else
		cc = curl_easy_perform(s.h);
	if (cancelled) {
		orch_docker_errf(err, errlen, "%s: cancelled", name);
		rc = ORCH_ECLOSED;
		goto out;
	}
	/* A stream whose reader asked to stop ends with a write error, or
	 * (asked between two reads) unfinished. */
	if (s.fn_stopped)
		cc = CURLE_OK;
	if (cc != CURLE_OK) {
		rc = call_error(
		    c, name, s.h, cc, &s, errbuf, timeout_s, err, errlen);
		goto out;
	}
	if (s.mode == SINK_LINES && s.line_len > 0 && !s.fn_stopped)
		sink_line_end(&s);
	curl_easy_getinfo(s.h, CURLINFO_RESPONSE_CODE, &ans->status);
	ans->len = s.body.len;
	ans->body = orch_buf_take(&s.body);
	rc = ORCH_OK;
	goto out;
nomem:
	orch_docker_errf(err, errlen, "%s: out of memory", name);
out:
	if (s.h != NULL)
		curl_easy_cleanup(s.h);
	curl_slist_free_all(hdrs);
	free(s.line);
	orch_buf_fini(&s.body);
	free(url);
	return rc;
}

/* Wraps a raw stream's function to learn whether it asked to stop. */
struct stop_probe {
	orch_docker_chunk_fn fn;
	void *arg;
	int stopped;
};

static int
stop_probe(void *arg, const char *data, size_t len)
{
	struct stop_probe *sp = arg;
	int rc = sp->fn(sp->arg, data, len);

	if (rc != 0)
		sp->stopped = 1;
	return rc;
}

int
orch_docker_client_call(struct orch_docker_client *c, const char *method,
    const char *path, const char *body, long timeout_s,
    struct orch_docker_answer *ans, char *err, size_t errlen)
{
	return call_run(c, method, path, body, timeout_s, NULL, NULL, NULL,
	    false, NULL, ans, err, errlen);
}

int
orch_docker_client_stream(struct orch_docker_client *c, const char *method,
    const char *path, long timeout_s, struct orch_docker_cancel *cancel,
    orch_docker_line_fn fn, void *arg, struct orch_docker_answer *ans,
    char *err, size_t errlen)
{
	return call_run(c, method, path, NULL, timeout_s, cancel, fn, NULL,
	    false, arg, ans, err, errlen);
}

int
orch_docker_client_stream_raw(struct orch_docker_client *c, const char *method,
    const char *path, const char *body, long timeout_s,
    struct orch_docker_cancel *cancel, orch_docker_chunk_fn chunk, void *arg,
    struct orch_docker_answer *ans, char *err, size_t errlen)
{
	return call_run(c, method, path, body, timeout_s, cancel, NULL, chunk,
	    false, arg, ans, err, errlen);
}

int
orch_docker_client_stream_ticks(struct orch_docker_client *c,
    const char *method, const char *path, long timeout_s,
    orch_docker_chunk_fn fn, void *arg, struct orch_docker_answer *ans,
    int *stopped, char *err, size_t errlen)
{
	struct stop_probe sp = {.fn = fn, .arg = arg};
	int rc;

	rc = call_run(c, method, path, NULL, timeout_s, NULL, NULL, stop_probe,
	    true, &sp, ans, err, errlen);
	*stopped = sp.stopped;
	return rc;
}

/* ---- cancellation ---- */

int
orch_docker_cancel_init(struct orch_docker_cancel *cc)
{
	pthread_condattr_t ca;
	int e;

	memset(cc, 0, sizeof(*cc));
	if ((e = pthread_mutex_init(&cc->mu, NULL)) != 0)
		return orch_err_from_errno(e);
	if ((e = pthread_condattr_init(&ca)) != 0)
		goto out_mu;
	/* Backoff sleeps must not stretch when the wall clock is set back. */
	if ((e = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) != 0 ||
	    (e = pthread_cond_init(&cc->cond, &ca)) != 0) {
		pthread_condattr_destroy(&ca);
		goto out_mu;
	}
	pthread_condattr_destroy(&ca);
	return ORCH_OK;
out_mu:
	pthread_mutex_destroy(&cc->mu);
	return orch_err_from_errno(e);
}

void
orch_docker_cancel_fini(struct orch_docker_cancel *cc)
{
	pthread_cond_destroy(&cc->cond);
	pthread_mutex_destroy(&cc->mu);
}

void
orch_docker_cancel_fire(struct orch_docker_cancel *cc)
{
	pthread_mutex_lock(&cc->mu);
	cc->stopped = true;
	if (cc->multi != NULL)
		curl_multi_wakeup(cc->multi);
	pthread_cond_broadcast(&cc->cond);
	pthread_mutex_unlock(&cc->mu);
}

bool
orch_docker_cancel_stopped(struct orch_docker_cancel *cc)
{
	bool stopped;

	pthread_mutex_lock(&cc->mu);
	stopped = cc->stopped;
	pthread_mutex_unlock(&cc->mu);
	return stopped;
}

bool
orch_docker_cancel_sleep(struct orch_docker_cancel *cc, int ms)
{
	struct timespec until;
	bool stopped;

	orch_mono_deadline(ms, &until);
	pthread_mutex_lock(&cc->mu);
	while (!cc->stopped &&
	    pthread_cond_timedwait(&cc->cond, &cc->mu, &until) != ETIMEDOUT)
		;
	stopped = cc->stopped;
	pthread_mutex_unlock(&cc->mu);
	return stopped;
}
