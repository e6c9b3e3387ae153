/*
 * test_log_demux.c: the demultiplexer of Docker's log stream
 * (agent/log_demux.c): frames whole and cut at every byte, empty and
 * huge frames, a reader that stops, and headers that are not headers
 * (an error that stays, never a crash or a byte handed out of place).
 */
#include "harness.h"

#include <stdint.h>

#include "log_demux.h"

/* What the demultiplexer handed out: "1:abc|2:de|" (stream:bytes|),
 * pieces of one stream run together. */
struct got {
	char text[4096];
	size_t len;
	int last_stream;
	int stop_after; /* stop once this many bytes came (0: never) */
	size_t bytes;
};

static int
collect(void *arg, int stream, const char *data, size_t len)
{
	struct got *g = arg;

	ASSERT(len > 0);
	if (stream != g->last_stream) {
		if (g->last_stream != 0)
			g->text[g->len++] = '|';
		g->len += (size_t)snprintf(
		    g->text + g->len, sizeof(g->text) - g->len, "%d:", stream);
		g->last_stream = stream;
	}
	ASSERT(g->len + len < sizeof(g->text));
	memcpy(g->text + g->len, data, len);
	g->len += len;
	g->text[g->len] = '\0';
	g->bytes += len;
	return g->stop_after > 0 && g->bytes >= (size_t)g->stop_after ? 7 : 0;
}

/* Appends a frame of stream with payload p to buf at *n. */
static void
frame(char *buf, size_t *n, int stream, const char *p)
{
	size_t len = strlen(p);

	buf[(*n)++] = (char)stream;
	buf[(*n)++] = 0;
	buf[(*n)++] = 0;
	buf[(*n)++] = 0;
	buf[(*n)++] = (char)(len >> 24);
	buf[(*n)++] = (char)(len >> 16);
	buf[(*n)++] = (char)(len >> 8);
	buf[(*n)++] = (char)len;
	memcpy(buf + *n, p, len);
	*n += len;
}

/* Feeds data[0..len) in pieces of exactly the given size, each from a
 * heap copy of that size (the sanitizers see a read past its end). */
static int
feed_pieces(struct orch_log_demux *d, const char *data, size_t len,
    size_t piece, struct got *g, char *err, size_t errlen)
{
	int rc = 0;

	for (size_t o = 0; o < len && rc == 0; o += piece) {
		size_t n = len - o < piece ? len - o : piece;
		char *copy = malloc(n);

		ASSERT(copy != NULL);
		memcpy(copy, data + o, n);
		rc = orch_log_demux_feed(d, copy, n, collect, g, err, errlen);
		free(copy);
	}
	return rc;
}

static void
test_frames_any_cut(void)
{
	char buf[512], err[200];
	size_t n = 0;

	frame(buf, &n, 1, "out one\n");
	frame(buf, &n, 2, "err one\n");
	frame(buf, &n, 2, "");
	frame(buf, &n, 1, "out two\n");
	/* Every piece size, 1 byte to all at once: the same output. */
	for (size_t piece = 1; piece <= n; piece++) {
		struct orch_log_demux d;
		struct got g = {0};

		orch_log_demux_init(&d);
		ASSERT_INT_EQ(
		    feed_pieces(&d, buf, n, piece, &g, err, sizeof(err)), 0);
		ASSERT_STR_EQ(g.text, "1:out one\n|2:err one\n|1:out two\n");
		ASSERT(orch_log_demux_at_boundary(&d));
	}
	/* Every single cut point of two feeds. */
	for (size_t cut = 0; cut <= n; cut++) {
		struct orch_log_demux d;
		struct got g = {0};

		orch_log_demux_init(&d);
		ASSERT_INT_EQ(orch_log_demux_feed(
		                  &d, buf, cut, collect, &g, err, sizeof(err)),
		    0);
		ASSERT_INT_EQ(orch_log_demux_at_boundary(&d),
		    cut == 0 || cut == 16 || cut == 32 || cut == 40 ||
		        cut == n);
		ASSERT_INT_EQ(orch_log_demux_feed(&d, buf + cut, n - cut,
		                  collect, &g, err, sizeof(err)),
		    0);
		ASSERT_STR_EQ(g.text, "1:out one\n|2:err one\n|1:out two\n");
	}
}

static void
test_huge_frame_streams_through(void)
{
	/* 4 GiB - 1 announced: its bytes go out as they come, nothing is
	 * held for the rest. */
	static const char head[8] = {
	    1, 0, 0, 0, (char)0xff, (char)0xff, (char)0xff, (char)0xff};
	struct orch_log_demux d;
	struct got g = {0};
	char err[200];

	orch_log_demux_init(&d);
	ASSERT_INT_EQ(
	    orch_log_demux_feed(&d, head, 8, collect, &g, err, sizeof(err)), 0);
	ASSERT_INT_EQ(
	    orch_log_demux_feed(&d, "abc", 3, collect, &g, err, sizeof(err)),
	    0);
	ASSERT_STR_EQ(g.text, "1:abc");
	/* Cut in the middle of a frame: its end was lost. */
	ASSERT(!orch_log_demux_at_boundary(&d));
	ASSERT_INT_EQ(d.left, 0xffffffffu - 3);
}

static void
test_bad_headers(void)
{
	static const char *const bad[] = {
	    "\x03\0\0\0\0\0\0\x01x",   /* stream 3 */
	    "\x01\x01\0\0\0\0\0\x01x", /* padding */
	    "\x01\0\0\x01\0\0\0\x01x",
	    "HTTP/1.1 200 OK\r\n", /* not a frame stream at all */
	    "{\"message\":\"x\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct orch_log_demux d;
		struct got g = {0};
		char buf[64], err[200] = "";
		size_t n = 0;

		/* A good frame first: what it had is handed out. */
		frame(buf, &n, 1, "ok\n");
		memcpy(buf + n, bad[i], 9);
		n += 9;
		orch_log_demux_init(&d);
		ASSERT_INT_EQ(orch_log_demux_feed(
		                  &d, buf, n, collect, &g, err, sizeof(err)),
		    -1);
		ASSERT_STR_EQ(g.text, "1:ok\n");
		ASSERT_STR_CONTAINS(err, "not a log frame header");
		ASSERT(!orch_log_demux_at_boundary(&d));
		/* It stays failed: the stream cannot be trusted after it. */
		ASSERT_INT_EQ(orch_log_demux_feed(
		                  &d, buf, 11, collect, &g, err, sizeof(err)),
		    -1);
		ASSERT_STR_CONTAINS(err, "out of step");
		ASSERT_STR_EQ(g.text, "1:ok\n");
	}
}

static void
test_reader_stops(void)
{
	char buf[128], err[200];
	size_t n = 0;
	struct orch_log_demux d;
	struct got g = {.stop_after = 2};

	frame(buf, &n, 1, "abcdef");
	frame(buf, &n, 2, "gh");
	orch_log_demux_init(&d);
	/* The reader's own value comes back, and the feed goes no further. */
	ASSERT_INT_EQ(
	    orch_log_demux_feed(&d, buf, n, collect, &g, err, sizeof(err)), 7);
	ASSERT_STR_EQ(g.text, "1:abcdef");
}

int
main(void)
{
	RUN(test_frames_any_cut);
	RUN(test_huge_frame_streams_through);
	RUN(test_bad_headers);
	RUN(test_reader_stops);
	return 0;
}
