/*
 * http_parser.c: the gateway's HTTP/1.1 request-head parser.
 *
 * One forward scan over the bytes received so far, in the manner of
 * picohttpparser: no state survives between calls, nothing is allocated and
 * every slice of the result points into the caller's buffer.
 *
 * Every decision is taken at the first byte that settles it and depends on
 * no byte after it.  So once a prefix of the input is answered with ORCH_OK
 * or ORCH_EPROTO, every longer input that starts with that prefix gets the
 * same answer; until then the answer is ORCH_EAGAIN.  The tests and the fuzz
 * target check exactly that.  A scan stops at the byte where a limit is
 * exceeded, so a request that is too large is refused when its excess
 * arrives, not when it ends.
 *
 * The parser is strict where leniency lets two readers of one stream
 * disagree about where a request ends (request smuggling, RFC 9112, 11.2):
 * lines end in CRLF only, and bare CR, bare LF, obsolete line folding,
 * whitespace before a field's colon, Transfer-Encoding and unclear
 * Content-Length values are refused rather than repaired.
 */
#include "http_parser.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

/* The why strings spell the limits out; keep them in step. */
_Static_assert(ORCH_HTTP_MAX_REQUEST_LINE == 8192, "update the 414 why");
_Static_assert(ORCH_HTTP_MAX_HEADERS_SIZE == 32768, "update the 431 why");
_Static_assert(ORCH_HTTP_MAX_HEADER_COUNT == 100, "update the 431 why");
_Static_assert(ORCH_HTTP_MAX_BODY == 1048576, "update the 413 why");

/*
 * Empty lines skipped before a request line.  RFC 9112, 2.2 asks a server to
 * ignore at least one, since some clients send a CRLF after a POST body;
 * an endless stream of them must not hold the connection open for free.
 */
#define HP_MAX_EMPTY_LINES 8

static const char hp_why_line_long[] = "request line longer than 8192 bytes";
static const char hp_why_headers_big[] =
    "header section longer than 32768 bytes";
static const char hp_why_headers_many[] = "more than 100 header fields";
static const char hp_why_body_big[] =
    "Content-Length larger than the 1048576-byte body limit";
static const char hp_why_bare_cr[] =
    "bare CR in the request head: CR must be followed by LF";
static const char hp_why_bare_lf[] =
    "bare LF in the request head: lines must end in CRLF";
static const char hp_why_version[] =
    "malformed HTTP version: the request line must end in HTTP/1.0 or "
    "HTTP/1.1";
static const char hp_why_cl_syntax[] = "Content-Length is not a decimal number";

/* What a scan has found so far; status and why are set when refused. */
struct hp {
	const unsigned char *buf;
	size_t len;
	int status;
	const char *why;
};

static int
hp_refuse(struct hp *h, int status, const char *why)
{
	h->status = status;
	h->why = why;
	return ORCH_EPROTO;
}

/* A token character (RFC 9110, 5.6.2): what methods and field names are
 * made of. */
static bool
hp_is_tchar(unsigned char c)
{
	switch (c) {
	case '!':
	case '#':
	case '$':
	case '%':
	case '&':
	case '\'':
	case '*':
	case '+':
	case '-':
	case '.':
	case '^':
	case '_':
	case '`':
	case '|':
	case '~': return true;
	}
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

static bool
hp_is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* ASCII only: header names and the tokens compared here are ASCII, and the
 * locale must not change what a request means. */
static unsigned char
hp_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

static bool
hp_ieq(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (hp_lower((unsigned char)a[i]) !=
		    hp_lower((unsigned char)b[i]))
			return false;
	return true;
}

static bool
hp_slice_ieq(struct orch_http_slice s, const char *lit)
{
	return hp_ieq(s.p, s.len, lit, strlen(lit));
}

/*
 * Skips the empty lines allowed before the request line, from *pos (OUT:
 * where the request line starts).
 */
static int
hp_skip_empty_lines(struct hp *h, size_t *pos /* IN/OUT */)
{
	size_t i = *pos;

	for (int n = 0;; n++) {
		if (i == h->len)
			return ORCH_EAGAIN;
		if (h->buf[i] == '\n')
			return hp_refuse(h, 400, hp_why_bare_lf);
		if (h->buf[i] != '\r')
			break;
		if (i + 1 == h->len)
			return ORCH_EAGAIN;
		if (h->buf[i + 1] != '\n')
			return hp_refuse(h, 400, hp_why_bare_cr);
		if (n == HP_MAX_EMPTY_LINES)
			return hp_refuse(h, 400,
			    "more than 8 empty lines before the request line");
		i += 2;
	}
	*pos = i;
	return ORCH_OK;
}

/*
 * The request line ran out of scanned bytes after n bytes of it: either the
 * rest has not arrived, or the scan stopped at the limit.
 */
static int
hp_line_short(struct hp *h, size_t n)
{
	if (n > ORCH_HTTP_MAX_REQUEST_LINE)
		return hp_refuse(h, 414, hp_why_line_long);
	return ORCH_EAGAIN;
}

/*
 * Parses "METHOD SP request-target SP HTTP/1.x CRLF" from *pos (IN/OUT:
 * past the CRLF on success).  The line, without its CRLF, may be
 * ORCH_HTTP_MAX_REQUEST_LINE bytes long; the scan looks at one byte more,
 * so a longer line is refused with 414 as soon as that byte arrives, unless
 * a malformed byte before it was refused with 400 first.
 */
static int
hp_request_line(struct hp *h, size_t *pos /* IN/OUT */,
    struct orch_http_request *req /* OUT */)
{
	const unsigned char *b = h->buf;
	const char *s = (const char *)h->buf;
	size_t start = *pos, i = start, lim, t;

	lim = h->len - start > ORCH_HTTP_MAX_REQUEST_LINE
	    ? start + ORCH_HTTP_MAX_REQUEST_LINE + 1
	    : h->len;

	while (i < lim && hp_is_tchar(b[i]))
		i++;
	if (i == lim)
		return hp_line_short(h, i - start);
	if (i == start)
		return hp_refuse(
		    h, 400, "request line does not start with a method token");
	if (b[i] == '\r' || b[i] == '\n')
		return hp_refuse(h, 400, "request line has no request target");
	if (b[i] != ' ')
		return hp_refuse(h, 400,
		    "request method contains a character not allowed in a "
		    "token");
	req->method.p = s + start;
	req->method.len = i - start;
	i++;

	/* Everything visible is let through: the router decodes and checks
	 * the path, and bytes >= 0x80 are UTF-8 some clients send raw. */
	t = i;
	while (i < lim && b[i] > ' ' && b[i] != 0x7f)
		i++;
	if (i == lim)
		return hp_line_short(h, i - start);
	if (b[i] == '\r' || b[i] == '\n')
		return hp_refuse(h, 400, "request line has no HTTP version");
	if (b[i] != ' ')
		return hp_refuse(
		    h, 400, "request target contains a control character");
	if (i == t)
		return hp_refuse(h, 400,
		    "request target is empty (two spaces after the method)");
	if (b[t] == '*' && i - t == 1) {
		if (!orch_http_slice_eq(req->method, "OPTIONS"))
			return hp_refuse(h, 400,
			    "request target \"*\" is only allowed with "
			    "OPTIONS");
	} else if (b[t] != '/') {
		return hp_refuse(
		    h, 400, "request target must be a path starting with '/'");
	}
	req->target.p = s + t;
	req->target.len = i - t;
	i++;

	/* "HTTP/" DIGIT "." DIGIT, byte by byte so that garbage is refused
	 * before the rest of it arrives. */
	for (size_t k = 0; k < 8; k++, i++) {
		if (i == lim)
			return hp_line_short(h, i - start);
		if (k == 5 || k == 7) {
			if (b[i] < '0' || b[i] > '9')
				return hp_refuse(h, 400, hp_why_version);
		} else if (b[i] != (unsigned char)"HTTP/0.0"[k]) {
			return hp_refuse(h, 400, hp_why_version);
		}
	}
	if (b[i - 3] != '1' || b[i - 1] > '1')
		return hp_refuse(h, 505,
		    "HTTP version not supported: only HTTP/1.0 and HTTP/1.1 "
		    "are");
	req->minor_version = b[i - 1] - '0';

	if (i == lim)
		return hp_line_short(h, i - start);
	if (b[i] == '\n')
		return hp_refuse(h, 400, hp_why_bare_lf);
	if (b[i] != '\r')
		return hp_refuse(h, 400, hp_why_version);
	if (i + 1 == h->len)
		return ORCH_EAGAIN;
	if (b[i + 1] != '\n')
		return hp_refuse(h, 400, hp_why_bare_cr);
	*pos = i + 2;
	return ORCH_OK;
}

/*
 * A field line ran out of scanned bytes n bytes into the header section.
 * The section counts field lines with their CRLFs; when n has reached the
 * limit the unfinished line can only end beyond it.
 */
static int
hp_headers_short(struct hp *h, size_t n)
{
	if (n >= ORCH_HTTP_MAX_HEADERS_SIZE)
		return hp_refuse(h, 431, hp_why_headers_big);
	return ORCH_EAGAIN;
}

/*
 * Parses the field lines and the empty line that ends the head, from *pos
 * (IN/OUT: past the empty line on success), into req->headers.  The field
 * lines with their CRLFs may take ORCH_HTTP_MAX_HEADERS_SIZE bytes; the
 * final empty line is not counted.
 */
static int
hp_headers(struct hp *h, size_t *pos /* IN/OUT */,
    struct orch_http_request *req /* OUT */)
{
	const unsigned char *b = h->buf;
	const char *s = (const char *)h->buf;
	size_t start = *pos, i = start, lim, n0, n1, v0, ve;
	struct orch_http_header *f;

	lim = h->len - start > ORCH_HTTP_MAX_HEADERS_SIZE
	    ? start + ORCH_HTTP_MAX_HEADERS_SIZE
	    : h->len;

	for (;;) {
		/* A line starts at i.  The empty line may start right at the
		 * limit, so it is looked for before the limit is checked. */
		if (i == h->len)
			return ORCH_EAGAIN;
		if (b[i] == '\r') {
			if (i + 1 == h->len)
				return ORCH_EAGAIN;
			if (b[i + 1] != '\n')
				return hp_refuse(h, 400, hp_why_bare_cr);
			*pos = i + 2;
			return ORCH_OK;
		}
		if (b[i] == '\n')
			return hp_refuse(h, 400, hp_why_bare_lf);
		if (i == lim)
			return hp_refuse(h, 431, hp_why_headers_big);
		if (hp_is_ows(b[i]))
			return hp_refuse(h, 400,
			    "header line starts with whitespace (obsolete line "
			    "folding is not accepted)");
		if (req->n_headers == ORCH_HTTP_MAX_HEADER_COUNT)
			return hp_refuse(h, 431, hp_why_headers_many);

		n0 = i;
		while (i < lim && hp_is_tchar(b[i]))
			i++;
		if (i == lim)
			return hp_headers_short(h, i - start);
		if (b[i] != ':') {
			if (hp_is_ows(b[i]))
				return hp_refuse(h, 400,
				    "header field name contains whitespace "
				    "before ':'");
			if (b[i] == '\r' || b[i] == '\n')
				return hp_refuse(
				    h, 400, "header line has no ':'");
			return hp_refuse(h, 400,
			    "header field name contains a character not "
			    "allowed in a token");
		}
		if (i == n0)
			return hp_refuse(h, 400, "header field name is empty");
		n1 = i++;

		while (i < lim && hp_is_ows(b[i]))
			i++;
		v0 = i;
		/* obs-text (>= 0x80) is allowed in values, controls but HTAB
		 * are not. */
		while (i < lim && (b[i] >= ' ' || b[i] == '\t') && b[i] != 0x7f)
			i++;
		if (i == lim)
			return hp_headers_short(h, i - start);
		if (b[i] == '\n')
			return hp_refuse(h, 400, hp_why_bare_lf);
		if (b[i] != '\r')
			return hp_refuse(h, 400,
			    "header field value contains a control character");
		ve = i;
		while (ve > v0 && hp_is_ows(b[ve - 1]))
			ve--;
		if (i + 1 == lim)
			return hp_headers_short(h, i + 1 - start);
		if (b[i + 1] != '\n')
			return hp_refuse(h, 400, hp_why_bare_cr);

		f = &req->headers[req->n_headers++];
		f->name.p = s + n0;
		f->name.len = n1 - n0;
		f->value.p = s + v0;
		f->value.len = ve - v0;
		i += 2;
	}
}

/*
 * Checks one Content-Length value, a comma-separated list of decimal
 * numbers that must all be the same, against *num (IN/OUT: the digits of
 * the number seen so far, without leading zeros; p is NULL before the
 * first).  Comparing digit strings rather than converted numbers lets any
 * two values compare exactly, however long, with nothing to overflow.
 * Returns 0 or the status to refuse with, and *why (OUT) then.
 */
static int
hp_content_length(struct orch_http_slice v, struct orch_http_slice *num,
    const char **why /* OUT */)
{
	const char *p = v.p, *end = v.p + v.len, *d0;

	for (;;) {
		while (p < end && hp_is_ows((unsigned char)*p))
			p++;
		d0 = p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (p == d0) {
			*why = hp_why_cl_syntax;
			return 400;
		}
		/* Leading zeros do not change the number. */
		while (d0 < p - 1 && *d0 == '0')
			d0++;
		if (num->p == NULL) {
			num->p = d0;
			num->len = (size_t)(p - d0);
		} else if (num->len != (size_t)(p - d0) ||
		    memcmp(num->p, d0, num->len) != 0) {
			*why = "conflicting Content-Length values";
			return 400;
		}
		while (p < end && hp_is_ows((unsigned char)*p))
			p++;
		if (p == end)
			return 0;
		if (*p != ',') {
			*why = hp_why_cl_syntax;
			return 400;
		}
		p++;
	}
}

/* True when the comma-separated list v holds token (case-insensitive), as
 * in Connection: keep-alive, Upgrade. */
static bool
hp_list_has(struct orch_http_slice v, const char *token)
{
	const char *p = v.p, *end = v.p + v.len, *e0, *e1;
	size_t tlen = strlen(token);

	while (p < end) {
		while (p < end && (*p == ',' || hp_is_ows((unsigned char)*p)))
			p++;
		e0 = p;
		while (p < end && *p != ',')
			p++;
		e1 = p;
		while (e1 > e0 && hp_is_ows((unsigned char)e1[-1]))
			e1--;
		if (e1 > e0 && hp_ieq(e0, (size_t)(e1 - e0), token, tlen))
			return true;
	}
	return false;
}

/*
 * Reads the fields that frame the request or decide the connection's fate,
 * once the head is complete: Transfer-Encoding, Content-Length, Host,
 * Connection and Expect.
 */
static int
hp_semantics(struct hp *h, struct orch_http_request *req /* IN/OUT */)
{
	struct orch_http_slice num = {NULL, 0};
	const char *cl_why = NULL;
	size_t hosts = 0;
	int cl_status = 0;
	bool te = false, cl = false, close = false, keep = false;
	bool expect = false;

	for (size_t i = 0; i < req->n_headers; i++) {
		const struct orch_http_header *f = &req->headers[i];

		if (hp_slice_ieq(f->name, "content-length")) {
			cl = true;
			if (cl_status == 0)
				cl_status =
				    hp_content_length(f->value, &num, &cl_why);
		} else if (hp_slice_ieq(f->name, "transfer-encoding")) {
			te = true;
		} else if (hp_slice_ieq(f->name, "host")) {
			hosts++;
		} else if (hp_slice_ieq(f->name, "connection")) {
			close = close || hp_list_has(f->value, "close");
			keep = keep || hp_list_has(f->value, "keep-alive");
		} else if (hp_slice_ieq(f->name, "expect")) {
			expect =
			    expect || hp_slice_ieq(f->value, "100-continue");
		}
	}

	/* Framing first: a body whose length is unclear leaves the rest of
	 * the stream unreadable, whatever else is wrong. */
	if (te && cl)
		return hp_refuse(h, 400,
		    "both Transfer-Encoding and Content-Length are present");
	if (te)
		return hp_refuse(h, 411,
		    "chunked request bodies are not supported; send "
		    "Content-Length");
	if (cl_status != 0)
		return hp_refuse(h, cl_status, cl_why);
	if (cl) {
		uint64_t n = 0;

		/* 20 digits may not fit in 64 bits; they are too many
		 * anyway. */
		if (num.len > 19)
			return hp_refuse(h, 413, hp_why_body_big);
		for (size_t i = 0; i < num.len; i++)
			n = n * 10 + (uint64_t)(num.p[i] - '0');
		if (n > ORCH_HTTP_MAX_BODY)
			return hp_refuse(h, 413, hp_why_body_big);
		req->content_length = n;
	}

	if (hosts > 1)
		return hp_refuse(h, 400, "more than one Host header field");
	if (hosts == 0 && req->minor_version == 1)
		return hp_refuse(h, 400, "HTTP/1.1 request without Host");

	if (req->minor_version == 1)
		req->keep_alive = !close;
	else
		req->keep_alive = keep && !close;
	/* RFC 9110, 10.1.1: an HTTP/1.0 client cannot expect 100. */
	req->expect_continue = expect && req->minor_version == 1;
	return ORCH_OK;
}

int
orch_http_request_parse(const char *buf, size_t len,
    struct orch_http_request *req /* OUT */, int *status /* OUT */,
    const char **why /* OUT */)
{
	struct hp h = {.buf = (const unsigned char *)buf, .len = len};
	static const struct orch_http_slice none = {NULL, 0};
	size_t pos = 0;
	int rc;

	/* Not a memset: the header array is 3 KiB and only n_headers of it
	 * is ever read. */
	req->method = req->target = req->path = req->query = none;
	req->minor_version = 0;
	req->n_headers = 0;
	req->head_len = 0;
	req->content_length = 0;
	req->keep_alive = false;
	req->expect_continue = false;
	*status = 0;
	*why = NULL;

	if ((rc = hp_skip_empty_lines(&h, &pos)) != ORCH_OK)
		goto out;
	if ((rc = hp_request_line(&h, &pos, req)) != ORCH_OK)
		goto out;
	if ((rc = hp_headers(&h, &pos, req)) != ORCH_OK)
		goto out;
	req->head_len = pos;
	if ((rc = hp_semantics(&h, req)) != ORCH_OK)
		goto out;

	req->path = req->target;
	req->query.p = req->target.p + req->target.len;
	for (size_t i = 0; i < req->target.len; i++) {
		if (req->target.p[i] == '?') {
			req->path.len = i;
			req->query.p = req->target.p + i + 1;
			req->query.len = req->target.len - i - 1;
			break;
		}
	}
out:
	if (rc == ORCH_EPROTO) {
		*status = h.status;
		*why = h.why;
	}
	return rc;
}

const struct orch_http_slice *
orch_http_header_get(const struct orch_http_request *req, const char *name)
{
	size_t nlen = strlen(name);

	for (size_t i = 0; i < req->n_headers; i++) {
		const struct orch_http_header *f = &req->headers[i];

		if (hp_ieq(f->name.p, f->name.len, name, nlen))
			return &f->value;
	}
	return NULL;
}

bool
orch_http_slice_eq(struct orch_http_slice a, const char *s)
{
	size_t n = strlen(s);

	return a.len == n && (n == 0 || memcmp(a.p, s, n) == 0);
}

const char *
orch_http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	/* The class's name, so that an unlisted code still reads sensibly
	 * (RFC 9110, 15: a client may treat it as x00). */
	if (status >= 100 && status < 200)
		return "Informational";
	if (status >= 200 && status < 300)
		return "Success";
	if (status >= 300 && status < 400)
		return "Redirection";
	if (status >= 400 && status < 500)
		return "Client Error";
	if (status >= 500 && status < 600)
		return "Server Error";
	return "Unknown Status";
}

int
orch_http_query_get(
    struct orch_http_slice q, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	const char *p = q.p, *end = q.p + q.len;

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pe = amp != NULL ? amp : end;

		if ((size_t)(pe - p) > nlen && memcmp(p, name, nlen) == 0 &&
		    p[nlen] == '=') {
			const char *v = p + nlen + 1;
			size_t o = 0;

			while (v < pe) {
				char c = *v++;

				if (c == '%') {
					char hex[3] = {0};
					char *hend;

					if (pe - v < 2)
						return -1;
					hex[0] = v[0];
					hex[1] = v[1];
					c = (char)strtol(hex, &hend, 16);
					if (hend != hex + 2)
						return -1;
					v += 2;
				} else if (c == '+') {
					c = ' ';
				}
				if (o + 1 >= outlen || c == '\0')
					return -1;
				out[o++] = c;
			}
			out[o] = '\0';
			return 1;
		}
		p = pe + 1;
	}
	return 0;
}
