/*
 * fuzz_http_parser.c: fuzzes the gateway's request-head parser.
 *
 * Beyond not crashing, the parser must hold to what the gateway relies on:
 *
 * - An accepted head lies inside the input, ends in CRLF CRLF, respects
 *   every limit, and its slices are what their names say.
 * - Answers are monotone in the input's length.  The gateway calls the
 *   parser again each time bytes arrive, so for any input there is one
 *   length d at which the answer is decided: every shorter prefix gets
 *   ORCH_EAGAIN and every prefix from d on, and any longer input that
 *   starts with those d bytes, gets the same answer.  For an accepted head
 *   d is head_len.  (That a prefix is accepted with the same head_len as
 *   the whole input is the special case of this that matters most.)
 *
 * Prefixes are parsed from exact-size heap copies so that AddressSanitizer
 * sees a read past their end.  Everything is deterministic: the split
 * points come from the input's length only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fuzz_util.h"
#include "http_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One parse and the buffer it points into. */
struct run {
	int rc, status;
	const char *why;
	struct orch_http_request req;
	const char *base;
	char *copy; /* owned; NULL when base is the input */
};

static void
run_parse(struct run *r, const char *base, size_t n)
{
	r->base = base;
	r->rc = orch_http_request_parse(base, n, &r->req, &r->status, &r->why);
}

/* Parses a heap copy of data[0..n) followed by the extra bytes. */
static void
run_parse_copy(struct run *r, const uint8_t *data, size_t n, const char *extra,
    size_t extra_len)
{
	/* malloc(0) may return NULL; one byte keeps NULL meaning failure,
	 * and ASan still flags a read of it when n is 0. */
	r->copy = malloc(n + extra_len > 0 ? n + extra_len : 1);
	CHECK(r->copy != NULL);
	if (n > 0)
		memcpy(r->copy, data, n);
	if (extra_len > 0)
		memcpy(r->copy + n, extra, extra_len);
	run_parse(r, r->copy, n + extra_len);
}

static void
run_free(struct run *r)
{
	free(r->copy);
	r->copy = NULL;
}

static void
check_slice_same(struct orch_http_slice a, const char *abase,
    struct orch_http_slice b, const char *bbase)
{
	CHECK(a.len == b.len);
	CHECK((a.p == NULL) == (b.p == NULL));
	if (a.p != NULL)
		CHECK(a.p - abase == b.p - bbase);
}

/* The same answer, with slices at the same offsets. */
static void
check_same(const struct run *a, const struct run *b)
{
	const struct orch_http_request *x = &a->req, *y = &b->req;

	CHECK(a->rc == b->rc);
	if (a->rc == ORCH_EPROTO) {
		CHECK(a->status == b->status);
		CHECK(strcmp(a->why, b->why) == 0);
	}
	if (a->rc != ORCH_OK)
		return;
	CHECK(x->head_len == y->head_len);
	CHECK(x->n_headers == y->n_headers);
	CHECK(x->minor_version == y->minor_version);
	CHECK(x->content_length == y->content_length);
	CHECK(x->keep_alive == y->keep_alive);
	CHECK(x->expect_continue == y->expect_continue);
	check_slice_same(x->method, a->base, y->method, b->base);
	check_slice_same(x->target, a->base, y->target, b->base);
	check_slice_same(x->path, a->base, y->path, b->base);
	check_slice_same(x->query, a->base, y->query, b->base);
	for (size_t i = 0; i < x->n_headers; i++) {
		check_slice_same(
		    x->headers[i].name, a->base, y->headers[i].name, b->base);
		check_slice_same(
		    x->headers[i].value, a->base, y->headers[i].value, b->base);
	}
}

static bool
is_tchar(unsigned char c)
{
	return c > ' ' && c < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", c) == NULL;
}

static void
check_in_head(struct orch_http_slice s, const char *base, size_t head_len)
{
	CHECK(s.p != NULL);
	CHECK(s.p >= base && s.p + s.len <= base + head_len);
}

/* What an accepted head must look like. */
static void
check_accepted(const struct run *r, size_t size)
{
	const struct orch_http_request *q = &r->req;
	const char *b = r->base;
	char name[64];

	CHECK(q->head_len >= strlen("A / HTTP/1.0\r\n\r\n"));
	CHECK(q->head_len <= size);
	CHECK(memcmp(b + q->head_len - 4, "\r\n\r\n", 4) == 0);
	CHECK(q->minor_version == 0 || q->minor_version == 1);
	CHECK(q->content_length <= ORCH_HTTP_MAX_BODY);
	CHECK(q->n_headers <= ORCH_HTTP_MAX_HEADER_COUNT);
	CHECK(!q->expect_continue || q->minor_version == 1);

	check_in_head(q->method, b, q->head_len);
	check_in_head(q->target, b, q->head_len);
	CHECK(q->method.len > 0 && q->target.len > 0);
	for (size_t i = 0; i < q->method.len; i++)
		CHECK(is_tchar((unsigned char)q->method.p[i]));
	for (size_t i = 0; i < q->target.len; i++)
		CHECK((unsigned char)q->target.p[i] > ' ' &&
		    q->target.p[i] != 0x7f);
	CHECK(q->target.p[0] == '/' ||
	    (q->target.len == 1 && orch_http_slice_eq(q->method, "OPTIONS")));
	CHECK(q->target.p == q->method.p + q->method.len + 1);
	CHECK(q->method.len + 1 + q->target.len + strlen(" HTTP/1.x") <=
	    ORCH_HTTP_MAX_REQUEST_LINE);

	CHECK(q->path.p == q->target.p);
	if (q->path.len < q->target.len) {
		CHECK(q->target.p[q->path.len] == '?');
		CHECK(q->query.p == q->path.p + q->path.len + 1);
		CHECK(q->path.len + 1 + q->query.len == q->target.len);
		CHECK(memchr(q->path.p, '?', q->path.len) == NULL);
	} else {
		CHECK(q->path.len == q->target.len && q->query.len == 0);
	}

	for (size_t i = 0; i < q->n_headers; i++) {
		const struct orch_http_header *f = &q->headers[i];
		const struct orch_http_slice *v;

		check_in_head(f->name, b, q->head_len);
		check_in_head(f->value, b, q->head_len);
		CHECK(f->name.len > 0);
		CHECK(f->name.p[f->name.len] == ':');
		for (size_t k = 0; k < f->name.len; k++)
			CHECK(is_tchar((unsigned char)f->name.p[k]));
		for (size_t k = 0; k < f->value.len; k++) {
			unsigned char c = (unsigned char)f->value.p[k];

			CHECK((c >= ' ' || c == '\t') && c != 0x7f);
		}
		if (f->value.len > 0) {
			CHECK(f->value.p[0] != ' ' && f->value.p[0] != '\t');
			CHECK(f->value.p[f->value.len - 1] != ' ' &&
			    f->value.p[f->value.len - 1] != '\t');
		}
		/* Lookup by name finds this field or an earlier namesake. */
		if (f->name.len < sizeof(name)) {
			memcpy(name, f->name.p, f->name.len);
			name[f->name.len] = '\0';
			v = orch_http_header_get(q, name);
			CHECK(v != NULL && v <= &f->value);
		}
	}
	CHECK(q->minor_version == 0 || orch_http_header_get(q, "host") != NULL);
	CHECK(orch_http_header_get(q, "Transfer-Encoding") == NULL);
}

static void
check_refused(const struct run *r)
{
	switch (r->status) {
	case 400:
	case 411:
	case 413:
	case 414:
	case 431:
	case 505: break;
	default: CHECK(!"unexpected status");
	}
	CHECK(r->why != NULL && r->why[0] != '\0');
	CHECK(strncmp(orch_http_reason(r->status), "Client", 6) != 0);
}

/* The answer for prefix k agrees with the whole input's, decided at d. */
static void
check_prefix(const uint8_t *data, size_t k, const struct run *full, size_t d)
{
	struct run p = {0};

	run_parse_copy(&p, data, k, NULL, 0);
	if (k < d)
		CHECK(p.rc == ORCH_EAGAIN);
	else
		check_same(&p, full);
	run_free(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char junk[] = "\r\n\r\nGET / HTTP/1.1\r\n\n\x01";
	struct run full = {0}, again = {0}, ext = {0}, rest = {0};
	size_t lo, hi, d;

	run_parse(&full, (const char *)data, size);
	CHECK(full.rc == ORCH_OK || full.rc == ORCH_EAGAIN ||
	    full.rc == ORCH_EPROTO);
	run_parse(&again, (const char *)data, size);
	check_same(&full, &again);
	if (full.rc == ORCH_OK)
		check_accepted(&full, size);
	else if (full.rc == ORCH_EPROTO)
		check_refused(&full);

	/* Find the deciding length d by bisection, which assumes the
	 * monotony checked around it below. */
	if (full.rc == ORCH_EAGAIN) {
		d = size + 1;
	} else {
		lo = 0;
		hi = size;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			struct run p = {0};

			run_parse_copy(&p, data, mid, NULL, 0);
			if (p.rc == ORCH_EAGAIN)
				lo = mid + 1;
			else
				hi = mid;
			run_free(&p);
		}
		d = lo;
		if (full.rc == ORCH_OK)
			CHECK(d == full.req.head_len);
		check_prefix(data, d, &full, d);
		if (d > 0)
			check_prefix(data, d - 1, &full, d);
	}
	check_prefix(data, 0, &full, d);
	check_prefix(data, size / 3, &full, d);
	check_prefix(data, size / 2, &full, d);
	check_prefix(data, size - size / 4, &full, d);
	if (size > 0)
		check_prefix(data, size - 1, &full, d);

	/* Whatever follows a decided input changes nothing. */
	if (full.rc != ORCH_EAGAIN) {
		run_parse_copy(&ext, data, size, junk, sizeof(junk) - 1);
		check_same(&ext, &full);
		run_free(&ext);
	}

	/* The next request of a pipeline: the same rules from where this
	 * one's body ends. */
	if (full.rc == ORCH_OK &&
	    full.req.head_len + full.req.content_length < size) {
		size_t off = full.req.head_len + full.req.content_length;

		run_parse(&rest, (const char *)data + off, size - off);
		if (rest.rc == ORCH_OK)
			check_accepted(&rest, size - off);
		else if (rest.rc == ORCH_EPROTO)
			check_refused(&rest);
	}
	return 0;
}
