/*
 * fuzz_log_demux.c: the agent's demultiplexer of Docker's log stream
 * (agent/log_demux.c).
 *
 * The input's first byte picks how the rest is cut into feeds (a piece
 * size, and whether sizes vary); the rest is the stream.  What the
 * demultiplexer hands out, fed in pieces, must be exactly what a plain
 * reading of the whole stream finds: the same bytes of the same streams,
 * only stdout, stderr (or stdin, which the driver drops), never an empty
 * piece; an error exactly where the plain reading meets a bad header,
 * with a message; and once failed, failed for good.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "log_demux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What was handed out: bytes with the stream of each. */
struct out {
	uint8_t *bytes;
	uint8_t *streams;
	size_t len;
};

static int
take(void *arg, int stream, const char *data, size_t len)
{
	struct out *o = arg;

	CHECK(len > 0);
	CHECK(stream >= 0 && stream <= 2);
	memcpy(o->bytes + o->len, data, len);
	memset(o->streams + o->len, stream, len);
	o->len += len;
	return 0;
}

/* The plain reading of the whole stream s: whether it is good up to its
 * end (*bad false) or where a bad header starts. */
static void
plain(const uint8_t *s, size_t n, struct out *o, bool *bad, bool *boundary)
{
	size_t i = 0;

	*bad = false;
	*boundary = true;
	while (i < n) {
		uint64_t len;
		size_t take_n;

		if (n - i < 8) {
			/* A header not whole is not judged yet. */
			*boundary = false;
			return;
		}
		if (s[i] > 2 || s[i + 1] != 0 || s[i + 2] != 0 ||
		    s[i + 3] != 0) {
			*bad = true;
			*boundary = false;
			return;
		}
		len = (uint64_t)s[i + 4] << 24 | (uint64_t)s[i + 5] << 16 |
		    (uint64_t)s[i + 6] << 8 | s[i + 7];
		i += 8;
		take_n = (uint64_t)(n - i) < len ? n - i : (size_t)len;
		memcpy(o->bytes + o->len, s + i, take_n);
		memset(o->streams + o->len, s[i - 8], take_n);
		o->len += take_n;
		i += take_n;
		if (take_n < len)
			*boundary = false;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct orch_log_demux d;
	struct out got = {0}, want = {0};
	char err[256];
	bool bad, boundary;
	size_t piece, i = 0;
	uint8_t mode;
	int rc = 0;

	if (size < 1)
		return 0;
	mode = data[0];
	piece = (size_t)(mode & 0x3f) + 1;
	data++;
	size--;
	got.bytes = malloc(size + 1);
	got.streams = malloc(size + 1);
	want.bytes = malloc(size + 1);
	want.streams = malloc(size + 1);
	CHECK(got.bytes && got.streams && want.bytes && want.streams);
	plain(data, size, &want, &bad, &boundary);
	orch_log_demux_init(&d);
	while (i < size && rc == 0) {
		size_t n = size - i < piece ? size - i : piece;
		/* An exact copy: a read past a piece's end is caught. */
		char *copy = malloc(n);

		CHECK(copy != NULL);
		memcpy(copy, data + i, n);
		err[0] = '\0';
		rc = orch_log_demux_feed(
		    &d, copy, n, take, &got, err, sizeof(err));
		free(copy);
		i += n;
		/* Pieces of varying size when the first byte says so. */
		if (mode & 0x40)
			piece = piece % 13 + 1;
	}
	CHECK(rc == 0 || rc == -1);
	CHECK((rc == -1) == bad);
	if (rc == -1) {
		CHECK(err[0] != '\0' && fuzz_utf8_ok(err));
		CHECK(orch_log_demux_feed(
		          &d, "x", 1, take, &got, err, sizeof(err)) == -1);
	}
	CHECK(got.len == want.len);
	CHECK(memcmp(got.bytes, want.bytes, got.len) == 0);
	CHECK(memcmp(got.streams, want.streams, got.len) == 0);
	CHECK((orch_log_demux_at_boundary(&d) != 0) == boundary);
	free(got.bytes);
	free(got.streams);
	free(want.bytes);
	free(want.streams);
	return 0;
}
