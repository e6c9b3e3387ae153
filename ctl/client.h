/*
 * client.h: orchctl's HTTP client of the manager's JSON gateway (libcurl).
 *
 * One client holds one curl handle, so that the requests of one command
 * (a list to resolve a name, then a DELETE) share a connection.  The
 * caller runs curl_global_init() before orch_client_new() and
 * curl_global_cleanup() after orch_client_free().
 */
#ifndef ORCH_CTL_CLIENT_H
#define ORCH_CTL_CLIENT_H

#include <signal.h>
#include <stddef.h>

/* Answers larger than this are refused while they arrive. */
#define ORCH_CLIENT_BODY_MAX (64L * 1024 * 1024)

/* Seconds to wait for the TCP connection, and for the whole request. */
#define ORCH_CLIENT_CONNECT_TIMEOUT 5
#define ORCH_CLIENT_TIMEOUT 30

struct orch_client;

/* An HTTP answer of any status. */
struct orch_reply {
	long status; /* the HTTP status code */
	char *body;  /* malloc'd and NUL-terminated; never NULL after success */
	size_t len;  /* bytes in body, without the NUL */
	/* orch_client_request(): "" unless the manager cut a streamed
	 * answer short, then why (its X-Orch-List-Error trailer): body is
	 * then incomplete. */
	char cut[512];
};

/*
 * Creates a client of the gateway at base, an http:// or https:// URL
 * without a trailing slash (see orch_client_addr_normalize()).  An https://
 * manager's certificate is verified against the CA certificates of the
 * PEM file cacert only, or the system's when cacert is NULL.  The client
 * keeps copies of both.  Returns ORCH_OK or ORCH_ENOMEM.
 */
int orch_client_new(
    const char *base, const char *cacert, struct orch_client **out /* OUT */);

/* Frees a client.  NULL is a no-op. */
void orch_client_free(struct orch_client *c);

/*
 * Makes every later request carry "Authorization: Bearer <token>" (in
 * place of an earlier token).  The client keeps a copy, wiped when freed;
 * token must hold no blank or
 * control character (the caller checks: it goes into a header as it is).
 * Returns ORCH_OK or ORCH_ENOMEM.
 */
int orch_client_token_set(struct orch_client *c, const char *token);

/* The base URL the client was created with. */
const char *orch_client_base(const struct orch_client *c);

/*
 * Turns an address given by a person into a base URL in buf: a missing
 * scheme becomes http://, and trailing slashes are dropped.  Any scheme
 * but http and https is refused, as curl would otherwise speak FTP or read
 * files.  Returns ORCH_OK, or ORCH_EINVAL (empty, bad scheme, no host) or
 * ORCH_ETOOBIG (longer than buf).
 */
int orch_client_addr_normalize(const char *addr, char *buf, size_t len);

/*
 * Sends method ("GET", "POST", "DELETE") to the base URL plus path (which
 * starts with '/' and is already escaped), with body as a JSON request
 * body when it is not NULL, and the header lines of headers ("Name:
 * value", NULL-terminated; headers itself may be NULL).
 *
 * Returns ORCH_OK when the manager answered, whatever the HTTP status; the
 * caller then owns reply and releases it with orch_reply_fini().  Otherwise
 * no answer is held, err holds a message for a person (without the
 * address), and the code says why: ORCH_EUNAVAIL (no connection: refused,
 * unresolvable, no route), ORCH_ETIMEDOUT, ORCH_ECLOSED (the connection
 * broke before a whole answer arrived), ORCH_ETOOBIG (an answer above
 * ORCH_CLIENT_BODY_MAX), ORCH_EPROTO (not HTTP), ORCH_ENOMEM or
 * ORCH_EINTERNAL.
 */
int orch_client_request(struct orch_client *c, const char *method,
    const char *path, const char *body, const char *const *headers,
    struct orch_reply *reply /* OUT */, char *err, size_t errlen);

/* Called with each line of a streamed answer, without its line end and
 * NUL-terminated.  Returns 0 to go on, anything else to stop. */
typedef int (*orch_client_line_fn)(void *arg, const char *line, size_t len);

/*
 * GETs path and, when the answer is 2xx, hands each line of its body to
 * fn as it arrives, with no time limit, until the manager ends the
 * stream, fn asks to stop, or *stop (set by a signal handler, say) turns
 * nonzero, which is looked at least once a second.  A line longer than
 * ORCH_CLIENT_BODY_MAX ends the stream (ORCH_ETOOBIG).
 * Returns ORCH_OK when the manager answered: reply->status holds the
 * status, and for anything but 2xx reply->body holds the answer (the
 * caller releases reply); *stopped (OUT) says whether fn or *stop ended
 * it.  Otherwise the codes of orch_client_request(); ORCH_ECLOSED when
 * the connection broke in the middle of the stream.
 */
int orch_client_stream(struct orch_client *c, const char *path,
    orch_client_line_fn fn, void *arg, volatile sig_atomic_t *stop,
    struct orch_reply *reply /* OUT */, int *stopped /* OUT */, char *err,
    size_t errlen);

/* Called with each piece of a raw streamed answer as it arrives.
 * Returns 0 to go on, anything else to stop. */
typedef int (*orch_client_bytes_fn)(void *arg, const char *data, size_t len);

/*
 * orch_client_stream() for an answer that is not lines (a task's
 * output): fn gets its bytes as they arrive.  When field is not NULL,
 * the value of the header or trailer field of that name (the last one)
 * is copied into value (OUT, vlen bytes, "" when there is none):
 * how a stream says after its head why it ended early.
 */
int orch_client_stream_raw(struct orch_client *c, const char *path,
    orch_client_bytes_fn fn, void *arg, volatile sig_atomic_t *stop,
    const char *field, char *value /* OUT */, size_t vlen,
    struct orch_reply *reply /* OUT */, int *stopped /* OUT */, char *err,
    size_t errlen);

/* Releases what a reply holds.  A zeroed reply is a no-op. */
void orch_reply_fini(struct orch_reply *r);

#endif
