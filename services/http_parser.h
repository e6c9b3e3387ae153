/*
 * http_parser.h: an HTTP/1.1 request-head parser for the gateway.
 *
 * Stateless in the manner of picohttpparser: the caller keeps the bytes it
 * has received in one buffer and calls orch_http_request_parse() again when
 * more arrive.  The parser never reads past buf[len - 1], never allocates,
 * and points the slices of the result into buf.
 *
 * Limits are enforced as soon as they can be known, before the caller
 * buffers more: a request line longer than ORCH_HTTP_MAX_REQUEST_LINE is
 * refused with 414 even while its end has not arrived.  The request line is
 * counted without its CRLF; the header section as its field lines with
 * their CRLFs, without the empty line that ends it.  A head is thus at most
 * about 41 KiB.
 *
 * Answers are monotone in len: once a prefix of the input gets ORCH_OK or
 * ORCH_EPROTO, any longer input starting with it gets the same answer.
 *
 * Re-parsing from the start costs O(len) per call, so a caller should call
 * again when a read has added bytes, not once per byte.
 */
#ifndef ORCH_HTTP_PARSER_H
#define ORCH_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ORCH_HTTP_MAX_REQUEST_LINE (8 * 1024)  /* 414 beyond */
#define ORCH_HTTP_MAX_HEADERS_SIZE (32 * 1024) /* 431 beyond, all fields */
#define ORCH_HTTP_MAX_HEADER_COUNT 100         /* 431 beyond */
#define ORCH_HTTP_MAX_BODY (1024 * 1024)       /* 413 beyond */

struct orch_http_slice {
	const char *p;
	size_t len;
};

struct orch_http_header {
	struct orch_http_slice name;
	struct orch_http_slice value; /* without surrounding whitespace */
};

struct orch_http_request {
	struct orch_http_slice method;
	struct orch_http_slice target; /* as sent: path plus query */
	struct orch_http_slice path;   /* target up to '?' */
	struct orch_http_slice query;  /* after '?', without it; may be empty */
	int minor_version;             /* HTTP/1.<minor_version>: 0 or 1 */
	struct orch_http_header headers[ORCH_HTTP_MAX_HEADER_COUNT];
	size_t n_headers;
	size_t head_len;         /* bytes up to and including the empty line */
	uint64_t content_length; /* 0 when absent */
	bool keep_alive;         /* from version and Connection */
	bool expect_continue;    /* Expect: 100-continue */
};

/*
 * Parses the head (request line and header fields) of the request at the
 * start of buf[0..len).  Up to 8 empty lines before the request line are
 * skipped (RFC 9112, 2.2) and counted in head_len.  Lines must end in CRLF.
 * The request target must be origin-form ("/path?query"), or "*" with
 * OPTIONS.
 *
 * Returns:
 *   ORCH_OK      the head is complete and *req describes it; the body, of
 *                req->content_length bytes, starts at buf + req->head_len.
 *   ORCH_EAGAIN  the head is incomplete but valid so far: call again with
 *                more bytes.
 *   ORCH_EPROTO  the request is refused; *status (OUT) holds the HTTP
 *                status to answer (400, 411, 413, 414, 431 or 505) and
 *                *why (OUT) a static message for the client.  The
 *                connection cannot continue after it.
 * Obsolete line folding, bare CR or LF, control characters, whitespace
 * before a field's colon, a missing or repeated Host, conflicting
 * Content-Length values and Transfer-Encoding (411; 400 with
 * Content-Length) are all refused, so that no proxy in front can read the
 * stream differently.  keep_alive follows the version and the Connection
 * tokens "close" and "keep-alive"; expect_continue is set only for
 * HTTP/1.1 with Expect: 100-continue, and other expectations are ignored.
 */
int orch_http_request_parse(const char *buf, size_t len,
    struct orch_http_request *req /* OUT */, int *status /* OUT */,
    const char **why /* OUT */);

/* Returns the value of the first header named name (case-insensitive), or
 * NULL when there is none. */
const struct orch_http_slice *orch_http_header_get(
    const struct orch_http_request *req, const char *name);

/* True when the slice equals the NUL-terminated s (case-sensitive). */
bool orch_http_slice_eq(struct orch_http_slice a, const char *s);

/* The reason phrase for an HTTP status code ("Not Found"). */
const char *orch_http_reason(int status);

/* Finds name=value in a query string (the first one), percent-decoding
 * value ('+' is a space) into out (outlen bytes, NUL-terminated).
 * Returns 1 when found, 0 when absent, -1 when malformed, too long or
 * holding a NUL. */
int orch_http_query_get(struct orch_http_slice q, const char *name,
    char *out /* OUT */, size_t outlen);

#endif
