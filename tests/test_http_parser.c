/*
 * test_http_parser.c: the gateway's request-head parser.
 *
 * Every input is parsed from the very end of a page that is followed by an
 * unreadable one, as picohttpparser's tests do, so a read one byte past the
 * end of the input crashes instead of passing by luck.  Inputs are also fed
 * in every prefix, since the gateway calls the parser again as bytes
 * arrive: a prefix of a valid request must ask for more, and once a prefix
 * is answered every longer one must get the same answer.
 */
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "harness.h"
#include "http_parser.h"

/* Room for the largest input here: a head at the header-section limit. */
#define EDGE_AREA (128 * 1024)

static char *edge_end; /* the first byte of the PROT_NONE page */

static void
edge_init(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *m;

	ASSERT(pg > 0 && EDGE_AREA % pg == 0);
	m = mmap(NULL, EDGE_AREA + (size_t)pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT(m != MAP_FAILED);
	ASSERT(mprotect(m + EDGE_AREA, (size_t)pg, PROT_NONE) == 0);
	edge_end = m + EDGE_AREA;
}

/* Parses s[0..n) copied so that its last byte is the last readable one.
 * The slices of *req stay valid until the next call. */
static int
parse_edge(const char *s, size_t n, struct orch_http_request *req, int *status,
    const char **why)
{
	char *p = edge_end - n;

	ASSERT(n <= EDGE_AREA);
	if (n > 0)
		memcpy(p, s, n);
	return orch_http_request_parse(p, n, req, status, why);
}

/* s with CR, LF and other unprintables escaped, for failure messages. */
static const char *
show(const char *s, size_t n)
{
	static char out[600];
	size_t o = 0;

	for (size_t i = 0; i < n && o < sizeof(out) - 16; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\r");
		else if (c == '\n')
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\n");
		else if (c < ' ' || c >= 0x7f)
			o += (size_t)snprintf(
			    out + o, sizeof(out) - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (o >= sizeof(out) - 16)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "...");
	out[o] = '\0';
	return out;
}

/* ---- a growing string, for inputs built at the limits ---- */

struct sbuf {
	char *p;
	size_t len;
};

static void
sb_add_n(struct sbuf *b, const char *s, size_t n)
{
	b->p = realloc(b->p, b->len + n + 1);
	ASSERT(b->p != NULL);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_add(struct sbuf *b, const char *s)
{
	sb_add_n(b, s, strlen(s));
}

static void sb_addf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_addf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	ASSERT(n >= 0 && (size_t)n < sizeof(tmp));
	sb_add_n(b, tmp, (size_t)n);
}

static void
sb_fill(struct sbuf *b, char c, size_t n)
{
	b->p = realloc(b->p, b->len + n + 1);
	ASSERT(b->p != NULL);
	memset(b->p + b->len, c, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

/* ---- comparing results ---- */

/* One parse, with the slices turned into offsets from the input's start
 * so that parses of different copies compare. */
struct result {
	int rc, status;
	const char *why;
	struct orch_http_request req;
	const char *base;
};

static bool
slice_same(struct orch_http_slice a, const char *abase,
    struct orch_http_slice b, const char *bbase)
{
	if (a.len != b.len || (a.p == NULL) != (b.p == NULL))
		return false;
	return a.p == NULL || a.p - abase == b.p - bbase;
}

static bool
result_same(const struct result *a, const struct result *b)
{
	const struct orch_http_request *x = &a->req, *y = &b->req;

	if (a->rc != b->rc)
		return false;
	if (a->rc == ORCH_EPROTO)
		return a->status == b->status && strcmp(a->why, b->why) == 0;
	if (a->rc != ORCH_OK)
		return true;
	if (x->n_headers != y->n_headers || x->head_len != y->head_len ||
	    x->minor_version != y->minor_version ||
	    x->content_length != y->content_length ||
	    x->keep_alive != y->keep_alive ||
	    x->expect_continue != y->expect_continue)
		return false;
	if (!slice_same(x->method, a->base, y->method, b->base) ||
	    !slice_same(x->target, a->base, y->target, b->base) ||
	    !slice_same(x->path, a->base, y->path, b->base) ||
	    !slice_same(x->query, a->base, y->query, b->base))
		return false;
	for (size_t i = 0; i < x->n_headers; i++)
		if (!slice_same(x->headers[i].name, a->base, y->headers[i].name,
		        b->base) ||
		    !slice_same(x->headers[i].value, a->base,
		        y->headers[i].value, b->base))
			return false;
	return true;
}

static void
result_get(struct result *r, const char *s, size_t n)
{
	r->rc = parse_edge(s, n, &r->req, &r->status, &r->why);
	r->base = edge_end - n;
}

static bool
prefix_check(
    int line, const char *s, size_t k, const struct result *full, bool decided)
{
	static struct result r;

	result_get(&r, s, k);
	if (r.rc == ORCH_EAGAIN) {
		if (decided)
			h_fail(__FILE__, line,
			    "prefix %zu of \"%s\" asks for more after a "
			    "shorter "
			    "one was answered",
			    k, show(s, k));
		return false;
	}
	if (!result_same(&r, full))
		h_fail(__FILE__, line,
		    "prefix %zu of \"%s\": rc %d status %d why \"%s\", but the "
		    "whole input gives rc %d status %d why \"%s\"",
		    k, show(s, k), r.rc, r.status, r.why ? r.why : "", full->rc,
		    full->status, full->why ? full->why : "");
	return true;
}

/*
 * Feeds s in every prefix (or, for long inputs, the prefixes within 300
 * bytes of either end and every 997th): each must ask for more until one is
 * answered, and from there on every prefix must get the whole input's
 * answer.  Returns the length of the shortest answered prefix (n + 1 when
 * none is).
 */
static size_t
check_prefixes(int line, const char *s, size_t n)
{
	static struct result full;
	size_t first = n + 1;

	result_get(&full, s, n);
	for (size_t k = 0; k <= n; k++) {
		if (n > 2000 && k > 300 && k + 300 < n && k % 997 != 0)
			continue;
		if (prefix_check(line, s, k, &full, first <= n) && first > n)
			first = k;
	}
	return first;
}

/* Parses the whole s, after checking its prefixes, and wants ORCH_OK. */
static struct orch_http_request *
ok_n(int line, const char *s, size_t n)
{
	static struct orch_http_request req;
	const char *why;
	int status, rc;

	check_prefixes(line, s, n);
	rc = parse_edge(s, n, &req, &status, &why);
	if (rc != ORCH_OK)
		h_fail(__FILE__, line, "\"%s\": rc %d status %d why \"%s\"",
		    show(s, n), rc, status, why ? why : "");
	return &req;
}

/* Wants s refused with status and a why containing why_part. */
static void
refused_n(
    int line, const char *s, size_t n, int want_status, const char *why_part)
{
	struct orch_http_request req;
	const char *why;
	int status, rc;

	check_prefixes(line, s, n);
	rc = parse_edge(s, n, &req, &status, &why);
	if (rc != ORCH_EPROTO || status != want_status || why == NULL ||
	    strstr(why, why_part) == NULL)
		h_fail(__FILE__, line,
		    "\"%s\": rc %d status %d why \"%s\", wanted %d \"%s\"",
		    show(s, n), rc, status, why ? why : "", want_status,
		    why_part);
}

/* Wants s to be an incomplete but valid head. */
static void
again_n(int line, const char *s, size_t n)
{
	struct orch_http_request req;
	const char *why;
	int status, rc;

	rc = parse_edge(s, n, &req, &status, &why);
	if (rc != ORCH_EAGAIN)
		h_fail(__FILE__, line,
		    "\"%s\": rc %d status %d why \"%s\", wanted ORCH_EAGAIN",
		    show(s, n), rc, status, why ? why : "");
}

#define OK(s) ok_n(__LINE__, (s), strlen(s))
#define REFUSED(s, st, why) refused_n(__LINE__, (s), strlen(s), (st), (why))
#define AGAIN(s) again_n(__LINE__, (s), strlen(s))

#define ASSERT_SLICE(sl, s)                                                    \
	do {                                                                   \
		if (!orch_http_slice_eq((sl), (s)))                            \
			h_fail(__FILE__, __LINE__, "%s == \"%s\": got \"%s\"", \
			    #sl, (s), show((sl).p, (sl).len));                 \
	} while (0)

/* ---- the tests ---- */

static void
test_guard_page_faults(void)
{
	pid_t pid;
	int ws;

	/* The edge probes are only worth something if the page after the
	 * input really cannot be read. */
	fflush(NULL);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		volatile const char *p = edge_end;

		signal(SIGSEGV, SIG_DFL);
		(void)*p;
		_exit(0);
	}
	ASSERT(waitpid(pid, &ws, 0) == pid);
	ASSERT(!(WIFEXITED(ws) && WEXITSTATUS(ws) == 0));
}

static void
test_simple_get(void)
{
	const char *s = "GET /v1/tasks HTTP/1.1\r\n"
	                "Host: localhost:8080\r\n"
	                "User-Agent: curl/7.88.1\r\n"
	                "Accept: */*\r\n"
	                "\r\n";
	struct orch_http_request *r = OK(s);

	ASSERT_SLICE(r->method, "GET");
	ASSERT_SLICE(r->target, "/v1/tasks");
	ASSERT_SLICE(r->path, "/v1/tasks");
	ASSERT_INT_EQ(r->query.len, 0);
	ASSERT_INT_EQ(r->minor_version, 1);
	ASSERT_INT_EQ(r->n_headers, 3);
	ASSERT_SLICE(r->headers[0].name, "Host");
	ASSERT_SLICE(r->headers[0].value, "localhost:8080");
	ASSERT_SLICE(r->headers[1].name, "User-Agent");
	ASSERT_SLICE(r->headers[1].value, "curl/7.88.1");
	ASSERT_SLICE(r->headers[2].name, "Accept");
	ASSERT_SLICE(r->headers[2].value, "*/*");
	ASSERT_INT_EQ(r->head_len, strlen(s));
	ASSERT_INT_EQ(r->content_length, 0);
	ASSERT(r->keep_alive);
	ASSERT(!r->expect_continue);
}

static void
test_empty_input(void)
{
	AGAIN("");
	AGAIN("\r");
	AGAIN("\r\n");
	AGAIN("G");
	AGAIN("GET / HTTP/1.1\r\nHost: a\r\n\r");
}

static void
test_post_body_follows_head(void)
{
	const char *s = "POST /v1/tasks HTTP/1.1\r\n"
	                "Host: h\r\n"
	                "Content-Type: application/json\r\n"
	                "Content-Length: 13\r\n"
	                "\r\n"
	                "{\"image\":\"x\"}";
	struct orch_http_request *r = OK(s);

	ASSERT_SLICE(r->method, "POST");
	ASSERT_INT_EQ(r->content_length, 13);
	ASSERT_INT_EQ(r->head_len + r->content_length, strlen(s));
	ASSERT(memcmp(r->method.p + r->head_len, "{\"image\"", 8) == 0);
}

static void
test_path_and_query(void)
{
	struct orch_http_request *r;

	r = OK(
	    "GET /v1/tasks?state=running&limit=5 HTTP/1.1\r\nHost: h\r\n\r\n");
	ASSERT_SLICE(r->target, "/v1/tasks?state=running&limit=5");
	ASSERT_SLICE(r->path, "/v1/tasks");
	ASSERT_SLICE(r->query, "state=running&limit=5");

	r = OK("GET /? HTTP/1.1\r\nHost: h\r\n\r\n");
	ASSERT_SLICE(r->path, "/");
	ASSERT_SLICE(r->query, "");
	ASSERT(r->query.p == r->target.p + 2);

	/* Only the first '?' splits. */
	r = OK("GET /a?b?c=%3F HTTP/1.1\r\nHost: h\r\n\r\n");
	ASSERT_SLICE(r->path, "/a");
	ASSERT_SLICE(r->query, "b?c=%3F");

	r = OK("GET /%E2%9C%93/\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n");
	ASSERT_SLICE(r->path, "/%E2%9C%93/\xc3\xa9");

	r = OK("GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
	ASSERT_SLICE(r->query, "");
	ASSERT(r->query.p == r->target.p + r->target.len);
}

static void
test_asterisk_form(void)
{
	struct orch_http_request *r;

	r = OK("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
	ASSERT_SLICE(r->method, "OPTIONS");
	ASSERT_SLICE(r->target, "*");
	ASSERT_SLICE(r->path, "*");
	ASSERT_SLICE(r->query, "");

	REFUSED("GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400,
	    "\"*\" is only allowed with OPTIONS");
	REFUSED("options * HTTP/1.1\r\nHost: h\r\n\r\n", 400,
	    "only allowed with OPTIONS");
	REFUSED(
	    "OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n", 400, "starting with '/'");
}

static void
test_leading_empty_lines(void)
{
	struct sbuf b = {0};
	struct orch_http_request *r;
	const char *req = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";

	r = OK("\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
	ASSERT_INT_EQ(r->head_len, 2 + strlen(req));
	ASSERT_SLICE(r->method, "GET");

	for (int i = 0; i < 8; i++)
		sb_add(&b, "\r\n");
	sb_add(&b, req);
	r = ok_n(__LINE__, b.p, b.len);
	ASSERT_INT_EQ(r->head_len, 16 + strlen(req));
	sb_free(&b);

	for (int i = 0; i < 9; i++)
		sb_add(&b, "\r\n");
	sb_add(&b, req);
	refused_n(__LINE__, b.p, b.len, 400, "more than 8 empty lines");
	sb_free(&b);

	REFUSED("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "bare LF");
	REFUSED("\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "bare CR");
	REFUSED(" GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400,
	    "does not start with a method");
}

/* "GET /aaa... HTTP/1.1" of exactly n bytes, then CRLF if crlf. */
static void
long_line(struct sbuf *b, size_t n, bool crlf)
{
	size_t len0 = b->len;

	sb_add(b, "GET /");
	sb_fill(b, 'a', n - strlen("GET / HTTP/1.1"));
	sb_add(b, " HTTP/1.1");
	ASSERT_INT_EQ(b->len - len0, n);
	if (crlf)
		sb_add(b, "\r\n");
}

static void
test_request_line_limit(void)
{
	struct sbuf b = {0};
	struct orch_http_request *r;
	const char *rest = "Host: h\r\n\r\n";

	/* 8192 bytes before the CRLF: accepted. */
	long_line(&b, 8192, true);
	sb_add(&b, rest);
	r = ok_n(__LINE__, b.p, b.len);
	ASSERT_INT_EQ(r->target.len, 8192 - strlen("GET  HTTP/1.1"));
	/* Incomplete at the edge: still waiting, not refused. */
	again_n(__LINE__, b.p, 8192);
	again_n(__LINE__, b.p, 8193);
	again_n(__LINE__, b.p, 8194);
	sb_free(&b);

	/* 8193: refused, complete or not. */
	long_line(&b, 8193, true);
	sb_add(&b, rest);
	refused_n(
	    __LINE__, b.p, b.len, 414, "request line longer than 8192 bytes");
	again_n(__LINE__, b.p, 8192);
	refused_n(__LINE__, b.p, 8193, 414, "longer than 8192");
	refused_n(__LINE__, b.p, 8194, 414, "longer than 8192");
	sb_free(&b);

	/* Refused as soon as the 8193rd byte arrives, whatever part of the
	 * line it falls in. */
	sb_add(&b, "GET /");
	sb_fill(&b, 'a', 8192 - 5);
	again_n(__LINE__, b.p, b.len);
	sb_add(&b, "a");
	refused_n(__LINE__, b.p, b.len, 414, "longer than 8192");
	sb_free(&b);
	sb_fill(&b, 'M', 8192);
	again_n(__LINE__, b.p, b.len);
	sb_add(&b, "M");
	refused_n(__LINE__, b.p, b.len, 414, "longer than 8192");
	sb_free(&b);

	/* Empty lines before the request line are not part of it. */
	sb_add(&b, "\r\n\r\n");
	long_line(&b, 8192, true);
	sb_add(&b, rest);
	ok_n(__LINE__, b.p, b.len);
	sb_free(&b);

	/* At the edge the CRLF is still checked. */
	long_line(&b, 8192, false);
	sb_add(&b, "\n");
	refused_n(__LINE__, b.p, b.len, 400, "bare LF");
	sb_free(&b);
}

/* A request whose field lines, CRLFs included, take exactly n bytes. */
static void
big_headers(struct sbuf *b, size_t n)
{
	sb_add(b, "GET / HTTP/1.1\r\nHost: h\r\nX-Fill: ");
	sb_fill(b, 'v', n - strlen("Host: h\r\nX-Fill: \r\n"));
	sb_add(b, "\r\n");
	ASSERT_INT_EQ(b->len, strlen("GET / HTTP/1.1\r\n") + n);
}

static void
test_header_section_limit(void)
{
	const size_t line = strlen("GET / HTTP/1.1\r\n");
	struct sbuf b = {0};
	struct orch_http_request *r;

	big_headers(&b, 32768);
	again_n(__LINE__, b.p, b.len);
	again_n(__LINE__, b.p, b.len - 1);
	sb_add(&b, "\r");
	again_n(__LINE__, b.p, b.len);
	sb_add(&b, "\n");
	r = ok_n(__LINE__, b.p, b.len);
	ASSERT_INT_EQ(r->n_headers, 2);
	ASSERT_INT_EQ(r->head_len, line + 32768 + 2);
	ASSERT_INT_EQ(r->headers[1].value.len, 32768 - 19);
	sb_free(&b);

	/* One field line more than the section holds: refused as soon as a
	 * byte beyond the limit is needed, even before the line ends. */
	big_headers(&b, 32768);
	sb_add(&b, "Y: z\r\n\r\n");
	refused_n(__LINE__, b.p, b.len, 431,
	    "header section longer than 32768 bytes");
	refused_n(__LINE__, b.p, line + 32768 + 1, 431, "longer than 32768");
	sb_free(&b);

	big_headers(&b, 32769);
	sb_add(&b, "\r\n");
	refused_n(__LINE__, b.p, b.len, 431, "longer than 32768");
	again_n(__LINE__, b.p, line + 32767);
	/* The line's LF would be byte 32769 of the section. */
	refused_n(__LINE__, b.p, line + 32768, 431, "longer than 32768");
	sb_free(&b);
}

/* A request with n header fields (Host among them), then CRLF if end. */
static void
many_headers(struct sbuf *b, int n, bool end)
{
	sb_add(b, "GET / HTTP/1.1\r\nHost: h\r\n");
	for (int i = 1; i < n; i++)
		sb_addf(b, "X-H%d: %d\r\n", i, i);
	if (end)
		sb_add(b, "\r\n");
}

static void
test_header_count_limit(void)
{
	struct sbuf b = {0};
	struct orch_http_request *r;

	many_headers(&b, 100, true);
	r = ok_n(__LINE__, b.p, b.len);
	ASSERT_INT_EQ(r->n_headers, 100);
	ASSERT_SLICE(r->headers[99].name, "X-H99");
	ASSERT_SLICE(r->headers[99].value, "99");
	sb_free(&b);

	many_headers(&b, 101, true);
	refused_n(__LINE__, b.p, b.len, 431, "more than 100 header fields");
	sb_free(&b);

	/* Known at the first byte of the 101st field. */
	many_headers(&b, 100, false);
	again_n(__LINE__, b.p, b.len);
	sb_add(&b, "\r");
	again_n(__LINE__, b.p, b.len);
	b.p[--b.len] = '\0';
	sb_add(&b, "X");
	refused_n(__LINE__, b.p, b.len, 431, "more than 100");
	sb_free(&b);
}

static void
test_body_limit(void)
{
	struct orch_http_request *r;

	r = OK("PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1048576\r\n\r\n");
	ASSERT_INT_EQ(r->content_length, 1048576);
	REFUSED("PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n\r\n",
	    413, "larger than the 1048576-byte body limit");
	AGAIN("PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n");
	REFUSED("PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: "
	        "18446744073709551615\r\n\r\n",
	    413, "body limit");
	REFUSED("PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: "
	        "18446744073709551616\r\n\r\n",
	    413, "body limit");
	REFUSED("PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: "
	        "99999999999999999999999999999999999999\r\n\r\n",
	    413, "body limit");
	/* Leading zeros do not make a number large. */
	r = OK("PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: "
	       "000000000000000000000000000000000000007\r\n\r\n");
	ASSERT_INT_EQ(r->content_length, 7);
	r = OK("PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
	ASSERT_INT_EQ(r->content_length, 0);
}

static void
test_content_length(void)
{
	static const struct {
		const char *fields;
		int status; /* 0: accepted with length 5 */
		const char *why;
	} cases[] = {
	    {"Content-Length: 5\r\n", 0, NULL},
	    {"content-length:5\r\n", 0, NULL},
	    {"CONTENT-LENGTH: \t5 \t\r\n", 0, NULL},
	    {"Content-Length: 5\r\nContent-Length: 5\r\n", 0, NULL},
	    {"Content-Length: 5, 5\r\n", 0, NULL},
	    {"Content-Length: 5,5,5\r\nContent-Length: 05\r\n", 0, NULL},
	    {"Content-Length: 5\r\nContent-Length: 6\r\n", 400,
	        "conflicting Content-Length"},
	    {"Content-Length: 5, 6\r\n", 400, "conflicting"},
	    {"Content-Length: 99999999999999999999, "
	     "99999999999999999998\r\n",
	        400, "conflicting"},
	    {"Content-Length:\r\n", 400, "not a decimal number"},
	    {"Content-Length: -1\r\n", 400, "not a decimal number"},
	    {"Content-Length: +5\r\n", 400, "not a decimal number"},
	    {"Content-Length: 5a\r\n", 400, "not a decimal number"},
	    {"Content-Length: 0x5\r\n", 400, "not a decimal number"},
	    {"Content-Length: 5 5\r\n", 400, "not a decimal number"},
	    {"Content-Length: 5,\r\n", 400, "not a decimal number"},
	    {"Content-Length: ,5\r\n", 400, "not a decimal number"},
	    {"Content-Length: 5,,5\r\n", 400, "not a decimal number"},
	    {"Content-Length: 5.0\r\n", 400, "not a decimal number"},
	    {"Content-Length: \xd9\xa5\r\n", 400, "not a decimal number"},
	    {"Content-Length: 5\r\nContent-Length: x\r\n", 400,
	        "not a decimal number"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sbuf b = {0};

		sb_add(&b, "POST /x HTTP/1.1\r\nHost: h\r\n");
		sb_add(&b, cases[i].fields);
		sb_add(&b, "\r\nhello");
		if (cases[i].status == 0) {
			struct orch_http_request *r =
			    ok_n(__LINE__, b.p, b.len);

			ASSERT_INT_EQ(r->content_length, 5);
			ASSERT_INT_EQ(r->head_len + 5, b.len);
		} else {
			refused_n(__LINE__, b.p, b.len, cases[i].status,
			    cases[i].why);
		}
		sb_free(&b);
	}
}

static void
test_transfer_encoding(void)
{
	struct orch_http_request req;
	const char *s = "POST /x HTTP/1.1\r\nHost: h\r\n"
	                "Transfer-Encoding: chunked\r\n\r\n";
	const char *why;
	int status;

	ASSERT_INT_EQ(
	    parse_edge(s, strlen(s), &req, &status, &why), ORCH_EPROTO);
	ASSERT_INT_EQ(status, 411);
	ASSERT_STR_EQ(why,
	    "chunked request bodies are not supported; send Content-Length");
	REFUSED(s, 411, "chunked");
	REFUSED("POST /x HTTP/1.1\r\nHost: h\r\ntransfer-encoding: "
	        "identity\r\n\r\n",
	    411, "send Content-Length");
	REFUSED("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n",
	    411, "send Content-Length");
	REFUSED("POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 411,
	    "send Content-Length");
	/* With Content-Length too: the classic smuggling pair. */
	REFUSED("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
	        "Transfer-Encoding: chunked\r\n\r\n",
	    400, "both Transfer-Encoding and Content-Length");
	REFUSED("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	        "Content-Length: x\r\n\r\n",
	    400, "both");
}

static void
test_host(void)
{
	struct orch_http_request *r;

	REFUSED("GET / HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 request without Host");
	REFUSED("GET / HTTP/1.1\r\nX-Host: h\r\n\r\n", 400, "without Host");
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400,
	    "more than one Host");
	REFUSED("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400,
	    "more than one Host");
	r = OK("GET / HTTP/1.0\r\n\r\n");
	ASSERT_INT_EQ(r->minor_version, 0);
	ASSERT_INT_EQ(r->n_headers, 0);
	/* An empty Host is what a client sends for a request without an
	 * authority (RFC 9112, 3.2). */
	r = OK("GET / HTTP/1.1\r\nHost:\r\n\r\n");
	ASSERT_SLICE(r->headers[0].value, "");
}

static void
test_version(void)
{
	struct orch_http_request *r;

	r = OK("GET / HTTP/1.0\r\n\r\n");
	ASSERT_INT_EQ(r->minor_version, 0);
	r = OK("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	ASSERT_INT_EQ(r->minor_version, 1);

	REFUSED("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505,
	    "only HTTP/1.0 and HTTP/1.1");
	REFUSED("GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505, "not supported");
	REFUSED("GET / HTTP/0.9\r\n\r\n", 505, "not supported");
	REFUSED("GET / HTTP/9.9\r\n\r\n", 505, "not supported");
	REFUSED("GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400, "malformed HTTP");
	REFUSED("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400, "malformed HTTP");
	REFUSED("GET / http/1.1\r\nHost: h\r\n\r\n", 400, "malformed HTTP");
	REFUSED("GET / HTTP/1\r\nHost: h\r\n\r\n", 400, "malformed HTTP");
	REFUSED("GET / HTTP/1.x\r\nHost: h\r\n\r\n", 400, "malformed HTTP");
	REFUSED("GET / HTTP/11\r\nHost: h\r\n\r\n", 400, "malformed HTTP");
	REFUSED("GET / HTTPS/1.1\r\nHost: h\r\n\r\n", 400, "malformed HTTP");
	REFUSED("GET / \r\nHost: h\r\n\r\n", 400, "malformed HTTP");
	/* HTTP/0.9's simple request has no version at all. */
	REFUSED("GET /\r\n\r\n", 400, "no HTTP version");
}

static void
test_request_line_garbage(void)
{
	REFUSED("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400,
	    "method contains a character not allowed");
	REFUSED("GET\r\n\r\n", 400, "no request target");
	REFUSED("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400,
	    "request target is empty");
	REFUSED("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "method contains");
	REFUSED("GET http://example.com/ HTTP/1.1\r\nHost: h\r\n\r\n", 400,
	    "must be a path starting with '/'");
	REFUSED("CONNECT example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n", 400,
	    "starting with '/'");
	REFUSED("GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400,
	    "request target contains a control character");
	REFUSED(
	    "GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", 400, "control character");
	REFUSED(
	    "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", 400, "control character");
	refused_n(__LINE__, "GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n", 30, 400,
	    "control character");
	refused_n(__LINE__, "G\0T / HTTP/1.1\r\nHost: h\r\n\r\n", 27, 400,
	    "method contains");
	/* A space inside the target leaves "b HTTP/1.1" as the version. */
	REFUSED("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed HTTP");
	/* A TLS ClientHello on the plain port is refused at its first byte. */
	refused_n(__LINE__, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11,
	    400, "does not start with a method");
	refused_n(__LINE__, "\x16", 1, 400, "does not start with a method");
}

static void
test_line_endings(void)
{
	REFUSED("GET / HTTP/1.1\nHost: h\r\n\r\n", 400, "bare LF");
	REFUSED("GET / HTTP/1.1\rHost: h\r\n\r\n", 400, "bare CR");
	REFUSED("GET / HTTP/1.1\r\nHost: h\n\r\n", 400, "bare LF");
	REFUSED("GET / HTTP/1.1\r\nHost: h\r\n\n", 400, "bare LF");
	REFUSED("GET / HTTP/1.1\r\nHost: h\r\n\rX", 400, "bare CR");
	REFUSED("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400, "bare CR");
	REFUSED("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400, "bare CR");
	REFUSED("GET / HTTP/1.1\r\nHost: h\r\nX: a\nb\r\n\r\n", 400, "bare LF");
	REFUSED("GET / HTTP/1.1\n\n", 400, "bare LF");
}

static void
test_header_syntax(void)
{
	struct orch_http_request *r;

	REFUSED("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400,
	    "header field name contains whitespace before ':'");
	REFUSED("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400,
	    "whitespace before ':'");
	REFUSED("GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400,
	    "header field name is empty");
	REFUSED("GET / HTTP/1.1\r\nHost: h\r\nX@Y: v\r\n\r\n", 400,
	    "not allowed in a token");
	REFUSED("GET / HTTP/1.1\r\nHost: h\r\nX\x80: v\r\n\r\n", 400,
	    "not allowed in a token");
	REFUSED("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400,
	    "header line has no ':'");
	REFUSED("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400,
	    "obsolete line folding");
	REFUSED("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", 400,
	    "obsolete line folding");
	REFUSED("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400,
	    "starts with whitespace");
	REFUSED("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01\r\n\r\n", 400,
	    "header field value contains a control character");
	REFUSED("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", 400,
	    "value contains a control character");
	refused_n(__LINE__, "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", 35,
	    400, "value contains a control character");

	/* OWS around the value is not part of it; inside, it is kept.
	 * HTAB and obs-text are allowed. */
	r = OK("GET / HTTP/1.1\r\nHost:h\r\nX-A: \t a \t b \t \r\nX-B:\r\n"
	       "X-C:   \r\nX-D: caf\xc3\xa9\r\nX-E:\tx\ty\r\n\r\n");
	ASSERT_INT_EQ(r->n_headers, 6);
	ASSERT_SLICE(r->headers[0].value, "h");
	ASSERT_SLICE(r->headers[1].name, "X-A");
	ASSERT_SLICE(r->headers[1].value, "a \t b");
	ASSERT_SLICE(r->headers[2].value, "");
	ASSERT_SLICE(r->headers[3].value, "");
	ASSERT_SLICE(r->headers[4].value, "caf\xc3\xa9");
	ASSERT_SLICE(r->headers[5].value, "x\ty");
	/* Every token character is allowed in a name. */
	r = OK("GET / HTTP/1.1\r\nHost: h\r\n"
	       "!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n");
	ASSERT_SLICE(r->headers[1].name, "!#$%&'*+-.^_`|~09azAZ");
	r = OK("!#$%&'*+-.^_`|~09azAZ / HTTP/1.1\r\nHost: h\r\n\r\n");
	ASSERT_SLICE(r->method, "!#$%&'*+-.^_`|~09azAZ");
}

static void
test_keep_alive(void)
{
	static const struct {
		const char *s;
		bool keep_alive;
	} cases[] = {
	    {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", true},
	    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false},
	    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n", false},
	    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n",
	        true},
	    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE \r\n"
	     "\r\n",
	        false},
	    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: ,, close ,\r\n\r\n",
	        false},
	    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: te\r\n"
	     "connection: close\r\n\r\n",
	        false},
	    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n", true},
	    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: clo se\r\n\r\n", true},
	    {"GET / HTTP/1.1\r\nHost: h\r\nX-Connection: close\r\n\r\n", true},
	    {"GET / HTTP/1.0\r\n\r\n", false},
	    {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
	    {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
	    {"GET / HTTP/1.0\r\nConnection: foo,\tkeep-alive\r\n\r\n", true},
	    {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false},
	    {"GET / HTTP/1.0\r\nConnection: keep-alives\r\n\r\n", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct orch_http_request *r = OK(cases[i].s);

		if (r->keep_alive != cases[i].keep_alive)
			h_fail(__FILE__, __LINE__, "\"%s\": keep_alive %d",
			    show(cases[i].s, strlen(cases[i].s)),
			    r->keep_alive);
	}
}

static void
test_expect_continue(void)
{
	static const struct {
		const char *s;
		bool expect;
	} cases[] = {
	    {"PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
	     "Expect: 100-continue\r\n\r\n",
	        true},
	    {"PUT /x HTTP/1.1\r\nHost: h\r\nexpect:  100-Continue \r\n\r\n",
	        true},
	    {"PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue2\r\n\r\n",
	        false},
	    {"PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", false},
	    {"PUT /x HTTP/1.1\r\nHost: h\r\nExpect:\r\n\r\n", false},
	    {"PUT /x HTTP/1.1\r\nHost: h\r\n\r\n", false},
	    /* RFC 9110, 10.1.1: ignored from an HTTP/1.0 client. */
	    {"PUT /x HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct orch_http_request *r = OK(cases[i].s);

		if (r->expect_continue != cases[i].expect)
			h_fail(__FILE__, __LINE__, "\"%s\": expect_continue %d",
			    show(cases[i].s, strlen(cases[i].s)),
			    r->expect_continue);
	}
}

static void
test_header_get(void)
{
	struct orch_http_request *r;
	const struct orch_http_slice *v;

	r = OK("GET / HTTP/1.1\r\nHost: h\r\nX-Dup: 1\r\nx-dup: 2\r\n"
	       "Content-Type: text/plain\r\n\r\n");
	v = orch_http_header_get(r, "x-DUP");
	ASSERT(v != NULL);
	ASSERT_SLICE(*v, "1");
	ASSERT(v == &r->headers[1].value);
	v = orch_http_header_get(r, "content-type");
	ASSERT(v != NULL);
	ASSERT_SLICE(*v, "text/plain");
	ASSERT(orch_http_header_get(r, "Content") == NULL);
	ASSERT(orch_http_header_get(r, "Content-Type2") == NULL);
	ASSERT(orch_http_header_get(r, "") == NULL);

	ASSERT(orch_http_slice_eq(r->method, "GET"));
	ASSERT(!orch_http_slice_eq(r->method, "get"));
	ASSERT(!orch_http_slice_eq(r->method, "GE"));
	ASSERT(!orch_http_slice_eq(r->method, "GETS"));
	ASSERT(orch_http_slice_eq(r->query, ""));
	ASSERT(orch_http_slice_eq((struct orch_http_slice){NULL, 0}, ""));
}

static void
test_reason(void)
{
	static const struct {
		int status;
		const char *reason;
	} cases[] = {
	    {100, "Continue"},
	    {200, "OK"},
	    {201, "Created"},
	    {204, "No Content"},
	    {400, "Bad Request"},
	    {401, "Unauthorized"},
	    {403, "Forbidden"},
	    {404, "Not Found"},
	    {405, "Method Not Allowed"},
	    {408, "Request Timeout"},
	    {409, "Conflict"},
	    {411, "Length Required"},
	    {413, "Content Too Large"},
	    {414, "URI Too Long"},
	    {415, "Unsupported Media Type"},
	    {417, "Expectation Failed"},
	    {429, "Too Many Requests"},
	    {431, "Request Header Fields Too Large"},
	    {500, "Internal Server Error"},
	    {501, "Not Implemented"},
	    {503, "Service Unavailable"},
	    {505, "HTTP Version Not Supported"},
	    {299, "Success"},
	    {418, "Client Error"},
	    {599, "Server Error"},
	    {0, "Unknown Status"},
	    {-1, "Unknown Status"},
	    {1000, "Unknown Status"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ASSERT_STR_EQ(
		    orch_http_reason(cases[i].status), cases[i].reason);
}

static const char *const valid_heads[] = {
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    ("POST /v1/tasks?dry_run=1 HTTP/1.1\r\nHost: localhost:8080\r\n"
     "Content-Type: application/json\r\nContent-Length: 13\r\n"
     "Expect: 100-continue\r\n\r\n{\"image\":\"x\"}"),
    "\r\n\r\nGET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "OPTIONS * HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n",
    ("DELETE /v1/tasks/3f2a?force HTTP/1.1\r\nhost: h\r\n"
     "connection: Close\r\n\r\n"),
    "GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n",
};

/* Byte by byte: every proper prefix of the head asks for more; the head,
 * and anything longer, gives the same answer. */
static void
test_split_input(void)
{
	for (size_t i = 0; i < sizeof(valid_heads) / sizeof(valid_heads[0]);
	     i++) {
		const char *s = valid_heads[i];
		struct orch_http_request *r = OK(s);
		size_t head_len = r->head_len;

		ASSERT_INT_EQ(check_prefixes(__LINE__, s, strlen(s)), head_len);
	}
}

static const char *const bad_heads[] = {
    "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
    "GET / HTTP/2.0\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
    ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
     "Content-Length: 2\r\n\r\nab"),
    "GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
    "GET /\x01 HTTP/1.1\r\n",
    "GET / HTTP/1.1\r\nHost: h\r\n\n",
};

/* For refused input the answer comes at one byte and stays. */
static void
test_split_refusals(void)
{
	for (size_t i = 0; i < sizeof(bad_heads) / sizeof(bad_heads[0]); i++) {
		const char *s = bad_heads[i];
		struct result r;

		result_get(&r, s, strlen(s));
		ASSERT_INT_EQ(r.rc, ORCH_EPROTO);
		ASSERT(check_prefixes(__LINE__, s, strlen(s)) <= strlen(s));
	}
}

/* All prefixes of many inputs right against the unreadable page: a read
 * one byte past the end of any of them crashes the test. */
static void
test_buffer_edge(void)
{
	static const char *const more[] = {
	    "G",
	    "GE",
	    "GET",
	    "GET ",
	    "GET /",
	    "GET /a",
	    "GET /a ",
	    "GET /a H",
	    "GET /a HTTP/1.",
	    "GET /a HTTP/1.1",
	    "GET /a HTTP/1.1\r",
	    "GET /a HTTP/1.1\r\n",
	    "GET /a HTTP/1.1\r\nH",
	    "GET /a HTTP/1.1\r\nHost",
	    "GET /a HTTP/1.1\r\nHost:",
	    "GET /a HTTP/1.1\r\nHost: ",
	    "GET /a HTTP/1.1\r\nHost: x",
	    "GET /a HTTP/1.1\r\nHost: x \t",
	    "GET /a HTTP/1.1\r\nHost: x\r",
	    "GET /a HTTP/1.1\r\nHost: x\r\n",
	    "GET /a HTTP/1.1\r\nHost: x\r\n\r",
	    "\r",
	    "\r\n",
	    "\r\n\r",
	};

	for (size_t i = 0; i < sizeof(valid_heads) / sizeof(valid_heads[0]);
	     i++)
		check_prefixes(
		    __LINE__, valid_heads[i], strlen(valid_heads[i]));
	for (size_t i = 0; i < sizeof(bad_heads) / sizeof(bad_heads[0]); i++)
		check_prefixes(__LINE__, bad_heads[i], strlen(bad_heads[i]));
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		again_n(__LINE__, more[i], strlen(more[i]));
}

/* Requests back to back: each one's head and body, then the next. */
static void
test_pipelining(void)
{
	const char *s =
	    "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
	    "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
	    "\r\n" /* a stray CRLF after a body is skipped */
	    "GET /c?x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
	static const char *const paths[] = {"/a", "/b", "/c"};
	struct orch_http_request req;
	size_t off = 0, n = strlen(s);
	const char *why;
	int status;

	for (size_t i = 0; i < 3; i++) {
		ASSERT_INT_EQ(orch_http_request_parse(
		                  s + off, n - off, &req, &status, &why),
		    ORCH_OK);
		ASSERT_SLICE(req.path, paths[i]);
		if (i == 1) {
			ASSERT_INT_EQ(req.content_length, 5);
			ASSERT(memcmp(s + off + req.head_len, "hello", 5) == 0);
		}
		ASSERT(req.keep_alive == (i != 2));
		off += req.head_len + req.content_length;
		ASSERT(off <= n);
	}
	ASSERT_INT_EQ(off, n);
	ASSERT_INT_EQ(orch_http_request_parse(s + off, 0, &req, &status, &why),
	    ORCH_EAGAIN);

	/* The last request not all there yet. */
	s = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHo";
	ASSERT_INT_EQ(
	    orch_http_request_parse(s, strlen(s), &req, &status, &why),
	    ORCH_OK);
	off = req.head_len;
	ASSERT_INT_EQ(orch_http_request_parse(
	                  s + off, strlen(s) - off, &req, &status, &why),
	    ORCH_EAGAIN);

	/* A bad second request does not spoil the first. */
	s = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\nHost: "
	    "h\r\n\r\n";
	ASSERT_INT_EQ(
	    orch_http_request_parse(s, strlen(s), &req, &status, &why),
	    ORCH_OK);
	ASSERT_SLICE(req.path, "/1");
	off = req.head_len;
	ASSERT_INT_EQ(orch_http_request_parse(
	                  s + off, strlen(s) - off, &req, &status, &why),
	    ORCH_EPROTO);
	ASSERT_INT_EQ(status, 400);
}

int
main(void)
{
	edge_init();
	RUN(test_guard_page_faults);
	RUN(test_simple_get);
	RUN(test_empty_input);
	RUN(test_post_body_follows_head);
	RUN(test_path_and_query);
	RUN(test_asterisk_form);
	RUN(test_leading_empty_lines);
	RUN(test_request_line_limit);
	RUN(test_header_section_limit);
	RUN(test_header_count_limit);
	RUN(test_body_limit);
	RUN(test_content_length);
	RUN(test_transfer_encoding);
	RUN(test_host);
	RUN(test_version);
	RUN(test_request_line_garbage);
	RUN(test_line_endings);
	RUN(test_header_syntax);
	RUN(test_keep_alive);
	RUN(test_expect_continue);
	RUN(test_header_get);
	RUN(test_reason);
	RUN(test_split_input);
	RUN(test_split_refusals);
	RUN(test_buffer_edge);
	RUN(test_pipelining);
	return 0;
}
