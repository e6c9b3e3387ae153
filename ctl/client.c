#include "client.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "error.h"

struct orch_client {
	CURL *curl;
	char *base;
	char *cacert; /* NULL: the system's CAs */
	char *auth;   /* "Authorization: Bearer <token>", or NULL */
	char errbuf[CURL_ERROR_SIZE];
};

int
orch_client_new(const char *base, const char *cacert, struct orch_client **out)
{
	struct orch_client *c;
	int rc = ORCH_ENOMEM;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto out;
	if ((c->base = strdup(base)) == NULL)
		goto out;
	if (cacert != NULL && (c->cacert = strdup(cacert)) == NULL)
		goto out;
	if ((c->curl = curl_easy_init()) == NULL)
		goto out;
	*out = c;
	c = NULL;
	rc = ORCH_OK;
out:
	orch_client_free(c);
	return rc;
}

/* Wipes and frees an Authorization header line (NULL is a no-op). */
static void
auth_free(char *auth)
{
	/* volatile: a memset before free() may be optimised away. */
	for (volatile char *p = auth; p != NULL && *p != '\0'; p++)
		*p = '\0';
	free(auth);
}

void
orch_client_free(struct orch_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	auth_free(c->auth);
	free(c->base);
	free(c->cacert);
	free(c);
}

int
orch_client_token_set(struct orch_client *c, const char *token)
{
	static const char prefix[] = "Authorization: Bearer ";
	size_t n = sizeof(prefix) + strlen(token);
	char *auth = malloc(n);

	if (auth == NULL)
		return ORCH_ENOMEM;
	snprintf(auth, n, "%s%s", prefix, token);
	auth_free(c->auth);
	c->auth = auth;
	return ORCH_OK;
}

const char *
orch_client_base(const struct orch_client *c)
{
	return c->base;
}

int
orch_client_addr_normalize(const char *addr, char *buf, size_t len)
{
	const char *sep, *host;
	size_t n;
	int w;

	for (const char *p = addr; *p != '\0'; p++) {
		/* curl would refuse these later with a vaguer message. */
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return ORCH_EINVAL;
	}
	if ((sep = strstr(addr, "://")) != NULL) {
		n = (size_t)(sep - addr);
		if (!((n == 4 && strncasecmp(addr, "http", 4) == 0) ||
		        (n == 5 && strncasecmp(addr, "https", 5) == 0)))
			return ORCH_EINVAL;
		host = sep + 3;
		w = snprintf(buf, len, "%s", addr);
	} else {
		host = addr;
		w = snprintf(buf, len, "http://%s", addr);
	}
	if (*host == '\0' || *host == '/')
		return ORCH_EINVAL;
	if (w < 0 || (size_t)w >= len)
		return ORCH_ETOOBIG;
	/* Paths are appended with their own leading slash. */
	n = (size_t)w;
	while (n > 0 && buf[n - 1] == '/')
		buf[--n] = '\0';
	return ORCH_OK;
}

/* Collects an answer's body into an orch_buf, which refuses to grow past
 * its cap (ORCH_CLIENT_BODY_MAX) and so ends the transfer. */
static size_t
body_write(char *data, size_t size, size_t nmemb, void *arg)
{
	return orch_buf_append(arg, data, size * nmemb);
}

/* Translates a failed transfer into an orch_err code and a message. */
static int
client_error(struct orch_client *c, CURLcode cc, const struct orch_buf *body,
    char *err, size_t errlen)
{
	const char *msg =
	    c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(cc);
	long oserr = 0;

	if (body->too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(err, errlen, "the answer is larger than %ld MiB",
		    ORCH_CLIENT_BODY_MAX / (1024 * 1024));
		return ORCH_ETOOBIG;
	}
	if (body->nomem || cc == CURLE_OUT_OF_MEMORY) {
		snprintf(err, errlen, "out of memory");
		return ORCH_ENOMEM;
	}
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		/* "Connection refused" says more than curl's longer sentence.
		 */
		if (curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &oserr) ==
		        CURLE_OK &&
		    oserr != 0)
			msg = strerror((int)oserr);
		snprintf(err, errlen, "%s", msg);
		return ORCH_EUNAVAIL;
	case CURLE_PEER_FAILED_VERIFICATION:
		snprintf(err, errlen,
		    "the manager's certificate is not trusted (%s): give "
		    "the CA that signed it with --cacert FILE or ORCH_CACERT",
		    msg);
		return ORCH_EUNAVAIL;
	case CURLE_SSL_CACERT_BADFILE:
		snprintf(err, errlen, "cannot use the CA file %s: %s",
		    c->cacert != NULL ? c->cacert : "(system)", msg);
		return ORCH_EUNAVAIL;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_SSL_CONNECT_ERROR:
		snprintf(err, errlen, "%s", msg);
		return ORCH_EUNAVAIL;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(err, errlen, "%s", msg);
		return ORCH_ETIMEDOUT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		snprintf(err, errlen, "%s", msg);
		return ORCH_ECLOSED;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
		snprintf(err, errlen, "%s", msg);
		return ORCH_EPROTO;
	default: snprintf(err, errlen, "%s", msg); return ORCH_EIO;
	}
}

/* Sets every option of one request; a reset handle needs all of them. */
static CURLcode
client_setup(struct orch_client *c, const char *method, const char *url,
    struct curl_slist *hdrs, const char *body, struct orch_buf *answer)
{
	CURL *h = c->curl;
	CURLcode cc;

	if ((cc = curl_easy_setopt(h, CURLOPT_URL, url)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf)) !=
	        CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs)) != CURLE_OK ||
	    (cc = curl_easy_setopt(
	         h, CURLOPT_USERAGENT, "orchctl/" ORCH_VERSION)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT,
	         (long)ORCH_CLIENT_CONNECT_TIMEOUT)) != CURLE_OK ||
	    (cc = curl_easy_setopt(
	         h, CURLOPT_TIMEOUT, (long)ORCH_CLIENT_TIMEOUT)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write)) !=
	        CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_WRITEDATA, answer)) != CURLE_OK)
		return cc;
	/* Refuses at once when Content-Length already says too much. */
	/* The CA given and no other: the system's would trust any public
	 * certificate for the manager's name. */
	if (c->cacert != NULL &&
	    ((cc = curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert)) !=
	            CURLE_OK ||
	        (cc = curl_easy_setopt(h, CURLOPT_CAPATH, NULL)) != CURLE_OK))
		return cc;
	if ((cc = curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
	         (curl_off_t)ORCH_CLIENT_BODY_MAX)) != CURLE_OK)
		return cc;
	if (body != NULL) {
		if ((cc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, body)) !=
		        CURLE_OK ||
		    (cc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		         (curl_off_t)strlen(body))) != CURLE_OK)
			return cc;
	}
	/* Without a body curl sends GET, with one POST; anything else is named.
	 */
	if (strcmp(method, body != NULL ? "POST" : "GET") != 0)
		cc = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	return cc;
}

/* When the header or trailer line data (n bytes, as curl hands them) is
 * field, copies its value into value (vlen bytes, NUL-terminated): the
 * last one wins. */
static void
field_keep(
    const char *data, size_t n, const char *field, char *value, size_t vlen)
{
	size_t flen = strlen(field), o = 0;
	const char *p = data + flen + 1, *end = data + n;

	if (n <= flen || data[flen] != ':' ||
	    strncasecmp(data, field, flen) != 0 || vlen == 0)
		return;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p &&
	    (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' ||
	        end[-1] == '\t'))
		end--;
	for (; p < end && o + 1 < vlen; p++)
		value[o++] = *p;
	value[o] = '\0';
}

/* Keeps an answer's X-Orch-List-Error (curl hands trailers here too). */
static size_t
request_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct orch_reply *reply = arg;
	size_t n = size * nmemb;

	field_keep(
	    data, n, "X-Orch-List-Error", reply->cut, sizeof(reply->cut));
	return n;
}

/* Fills reply with status and the body taken from b (an empty string
 * when it holds nothing).  Returns ORCH_OK or ORCH_ENOMEM. */
static int
reply_take(struct orch_reply *reply, long status, struct orch_buf *b)
{
	reply->len = b->len;
	if ((reply->body = orch_buf_take(b)) == NULL &&
	    (reply->body = calloc(1, 1)) == NULL)
		return ORCH_ENOMEM;
	reply->status = status;
	return ORCH_OK;
}

int
orch_client_request(struct orch_client *c, const char *method, const char *path,
    const char *body, const char *const *headers, struct orch_reply *reply,
    char *err, size_t errlen)
{
	struct orch_buf answer;
	struct curl_slist *hdrs = NULL;
	char *url = NULL;
	size_t urllen;
	CURLcode cc;
	long status = 0;
	int rc;

	memset(reply, 0, sizeof(*reply));
	orch_buf_init(&answer, (size_t)ORCH_CLIENT_BODY_MAX);
	urllen = strlen(c->base) + strlen(path) + 1;
	if ((url = malloc(urllen)) == NULL)
		goto nomem;
	snprintf(url, urllen, "%s%s", c->base, path);

	/*
	 * Appending keeps the head of a non-empty list.  "Expect:" stops curl
	 * from waiting a second for a 100 Continue before large bodies.
	 */
	if ((hdrs = curl_slist_append(NULL, "Accept: application/json")) ==
	        NULL ||
	    curl_slist_append(hdrs, "Expect:") == NULL ||
	    (body != NULL &&
	        curl_slist_append(hdrs, "Content-Type: application/json") ==
	            NULL) ||
	    (c->auth != NULL && curl_slist_append(hdrs, c->auth) == NULL))
		goto nomem;
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
		if (curl_slist_append(hdrs, headers[i]) == NULL)
			goto nomem;
	}

	/* A reset keeps the connection cache, so requests reuse the socket. */
	curl_easy_reset(c->curl);
	c->errbuf[0] = '\0';
	if ((cc = client_setup(c, method, url, hdrs, body, &answer)) !=
	        CURLE_OK ||
	    (cc = curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION,
	         request_header)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, reply)) !=
	        CURLE_OK) {
		rc = cc == CURLE_OUT_OF_MEMORY ? ORCH_ENOMEM : ORCH_EINTERNAL;
		snprintf(err, errlen, "cannot set up the request: %s",
		    curl_easy_strerror(cc));
		goto out;
	}

	if ((cc = curl_easy_perform(c->curl)) != CURLE_OK) {
		rc = client_error(c, cc, &answer, err, errlen);
		goto out;
	}
	if (curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status) !=
	        CURLE_OK ||
	    status < 100 || status > 999) {
		rc = ORCH_EPROTO;
		snprintf(err, errlen, "the answer is not HTTP");
		goto out;
	}
	if ((rc = reply_take(reply, status, &answer)) != ORCH_OK)
		goto nomem;
	goto out;
nomem:
	rc = ORCH_ENOMEM;
	snprintf(err, errlen, "out of memory");
out:
	/* The handle must not keep pointers to what is freed here. */
	curl_easy_reset(c->curl);
	orch_buf_fini(&answer);
	curl_slist_free_all(hdrs);
	free(url);
	return rc;
}

/* A streamed answer being read. */
struct stream_ctx {
	struct orch_client *c;
	orch_client_line_fn fn;
	orch_client_bytes_fn bfn; /* a raw stream's, instead of fn */
	void *arg;
	volatile sig_atomic_t *stop;
	const char *field; /* a header or trailer field to keep, or NULL */
	char *value;       /* its value: vlen bytes */
	size_t vlen;
	long status;
	bool stopped;         /* fn or *stop ended it */
	struct orch_buf line; /* the line being received */
	struct orch_buf body; /* an error's answer */
};

/* Hands each whole line to the callback; an error's answer is kept. */
static size_t
stream_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct stream_ctx *sc = arg;
	size_t n = size * nmemb, i = 0;

	if (sc->status == 0)
		curl_easy_getinfo(
		    sc->c->curl, CURLINFO_RESPONSE_CODE, &sc->status);
	if (sc->status < 200 || sc->status > 299)
		return orch_buf_append(&sc->body, data, n);
	if (sc->bfn != NULL) {
		if (sc->bfn(sc->arg, data, n) != 0) {
			sc->stopped = true;
			return 0;
		}
		return n;
	}
	while (i < n) {
		char *nl = memchr(data + i, '\n', n - i);
		size_t k = nl != NULL ? (size_t)(nl - (data + i)) : n - i;

		if (k > 0 && orch_buf_append(&sc->line, data + i, k) != k)
			return 0;
		i += k;
		if (nl == NULL)
			break;
		i++;
		if (sc->line.len > 0 && sc->line.p[sc->line.len - 1] == '\r')
			sc->line.p[--sc->line.len] = '\0';
		if (sc->line.len > 0 &&
		    sc->fn(sc->arg, sc->line.p, sc->line.len) != 0) {
			sc->stopped = true;
			return 0;
		}
		sc->line.len = 0;
		if (sc->line.p != NULL)
			sc->line.p[0] = '\0';
	}
	return n;
}

/* Keeps the value of the field sc->field when a header or a trailer
 * (curl hands both here) is that field. */
static size_t
stream_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct stream_ctx *sc = arg;
	size_t n = size * nmemb;

	field_keep(data, n, sc->field, sc->value, sc->vlen);
	return n;
}

/* How often a quiet stream looks at *stop, in milliseconds. */
#define STREAM_POLL_MS 100

/*
 * Runs the transfer set up on c->curl until it ends or *sc->stop is set
 * (looked at every STREAM_POLL_MS, so that Ctrl-C ends a quiet stream at
 * once).  Returns the transfer's result; CURLE_OK when stopped.
 */
static CURLcode
stream_run(struct orch_client *c, struct stream_ctx *sc)
{
	CURLM *m = curl_multi_init();
	CURLcode cc = CURLE_OUT_OF_MEMORY;
	CURLMsg *msg;
	int running = 1, left;

	if (m == NULL || curl_multi_add_handle(m, c->curl) != CURLM_OK)
		goto out;
	cc = CURLE_OK;
	while (running && !*sc->stop) {
		if (curl_multi_perform(m, &running) != CURLM_OK ||
		    (running &&
		        curl_multi_poll(m, NULL, 0, STREAM_POLL_MS, NULL) !=
		            CURLM_OK)) {
			cc = CURLE_RECV_ERROR;
			break;
		}
	}
	if (*sc->stop)
		sc->stopped = true;
	while ((msg = curl_multi_info_read(m, &left)) != NULL) {
		if (msg->msg == CURLMSG_DONE)
			cc = msg->data.result;
	}
	curl_multi_remove_handle(m, c->curl);
out:
	if (m != NULL)
		curl_multi_cleanup(m);
	return sc->stopped ? CURLE_OK : cc;
}

/* The body of both streams: sc says which. */
static int
stream_get(struct orch_client *c, const char *path, const char *accept,
    struct stream_ctx *sc0, struct orch_reply *reply, int *stopped, char *err,
    size_t errlen)
{
	struct stream_ctx sc = *sc0;
	struct curl_slist *hdrs = NULL;
	char *url = NULL;
	size_t urllen;
	CURLcode cc;
	int rc;

	memset(reply, 0, sizeof(*reply));
	*stopped = 0;
	orch_buf_init(&sc.line, (size_t)ORCH_CLIENT_BODY_MAX);
	orch_buf_init(&sc.body, (size_t)ORCH_CLIENT_BODY_MAX);
	urllen = strlen(c->base) + strlen(path) + 1;
	if ((url = malloc(urllen)) == NULL)
		goto nomem;
	snprintf(url, urllen, "%s%s", c->base, path);
	if ((hdrs = curl_slist_append(NULL, accept)) == NULL ||
	    (c->auth != NULL && curl_slist_append(hdrs, c->auth) == NULL))
		goto nomem;
	curl_easy_reset(c->curl);
	c->errbuf[0] = '\0';
	/* A request's options, then what makes it a stream: no time limit
	 * and lines as they come. */
	if ((cc = client_setup(c, "GET", url, hdrs, NULL, &sc.body)) !=
	        CURLE_OK ||
	    (cc = curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 0L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c->curl, CURLOPT_MAXFILESIZE_LARGE,
	         (curl_off_t)0)) != CURLE_OK ||
	    (cc = curl_easy_setopt(
	         c->curl, CURLOPT_WRITEFUNCTION, stream_write)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &sc)) !=
	        CURLE_OK ||
	    (sc.field != NULL &&
	        ((cc = curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION,
	              stream_header)) != CURLE_OK ||
	            (cc = curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &sc)) !=
	                CURLE_OK))) {
		rc = cc == CURLE_OUT_OF_MEMORY ? ORCH_ENOMEM : ORCH_EINTERNAL;
		snprintf(err, errlen, "cannot set up the request: %s",
		    curl_easy_strerror(cc));
		goto out;
	}
	if ((cc = stream_run(c, &sc)) != CURLE_OK) {
		rc = client_error(
		    c, cc, sc.line.too_big ? &sc.line : &sc.body, err, errlen);
		goto out;
	}
	if (sc.status == 0)
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &sc.status);
	if (sc.status < 100 || sc.status > 999) {
		rc = ORCH_EPROTO;
		snprintf(err, errlen, "the answer is not HTTP");
		goto out;
	}
	if ((rc = reply_take(reply, sc.status, &sc.body)) != ORCH_OK)
		goto nomem;
	*stopped = sc.stopped;
	goto out;
nomem:
	rc = ORCH_ENOMEM;
	snprintf(err, errlen, "out of memory");
out:
	curl_easy_reset(c->curl);
	orch_buf_fini(&sc.line);
	orch_buf_fini(&sc.body);
	curl_slist_free_all(hdrs);
	free(url);
	return rc;
}

int
orch_client_stream(struct orch_client *c, const char *path,
    orch_client_line_fn fn, void *arg, volatile sig_atomic_t *stop,
    struct orch_reply *reply, int *stopped, char *err, size_t errlen)
{
	struct stream_ctx sc = {.c = c, .fn = fn, .arg = arg, .stop = stop};

	return stream_get(c, path, "Accept: application/x-ndjson", &sc, reply,
	    stopped, err, errlen);
}

int
orch_client_stream_raw(struct orch_client *c, const char *path,
    orch_client_bytes_fn fn, void *arg, volatile sig_atomic_t *stop,
    const char *field, char *value, size_t vlen, struct orch_reply *reply,
    int *stopped, char *err, size_t errlen)
{
	struct stream_ctx sc = {.c = c,
	    .bfn = fn,
	    .arg = arg,
	    .stop = stop,
	    .field = field,
	    .value = value,
	    .vlen = vlen};

	if (vlen > 0)
		value[0] = '\0';
	return stream_get(
	    c, path, "Accept: text/plain", &sc, reply, stopped, err, errlen);
}

void
orch_reply_fini(struct orch_reply *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
	r->status = 0;
	r->cut[0] = '\0';
}
