/*
 * log_demux.h: reading Docker's multiplexed log stream.
 *
 * GET /containers/{id}/logs of a container without a TTY (orch never asks
 * for one) answers a stream of frames: an 8-byte header, then the
 * payload.  The header's first byte names the stream (0 stdin, 1 stdout,
 * 2 stderr), the next three are zero, and the last four are the payload's
 * length, big-endian.  The demultiplexer takes the bytes as they arrive,
 * cut anywhere (a header or a payload split across reads), and hands out
 * each payload piece with its stream as soon as it has it: a frame is
 * never buffered whole, so a header announcing 4 GiB costs nothing.  A
 * header that is not one (another stream byte, non-zero padding) is an
 * error: the stream cannot be resynchronised after it.
 */
#ifndef ORCH_LOG_DEMUX_H
#define ORCH_LOG_DEMUX_H

#include <stddef.h>
#include <stdint.h>

/* The streams of a frame, as the header's first byte says them. */
enum {
	ORCH_LOG_STDIN = 0,
	ORCH_LOG_STDOUT = 1,
	ORCH_LOG_STDERR = 2,
};

/* Called with each piece of a payload (len > 0) and its stream.  Returns
 * 0 to go on, anything else to stop feeding (the feed returns it). */
typedef int (*orch_log_demux_fn)(
    void *arg, int stream, const char *data, size_t len);

struct orch_log_demux {
	uint8_t head[8];
	size_t head_len; /* bytes of head received */
	uint64_t left;   /* payload bytes of the current frame to come */
	int stream;
	int failed; /* a bad header was seen: every later feed fails */
};

/* Makes d ready for a new stream. */
void orch_log_demux_init(struct orch_log_demux *d);

/*
 * Feeds len bytes of the stream.  Returns 0 when all were taken; the
 * non-zero value fn returned, which stops the feed; or -1 for a bad
 * header (err, errlen bytes, says what was wrong, and the demultiplexer
 * stays failed).
 */
int orch_log_demux_feed(struct orch_log_demux *d, const char *data, size_t len,
    orch_log_demux_fn fn, void *arg, char *err, size_t errlen);

/* Whether the stream may end here: between two frames (a stream cut in
 * the middle of a frame lost its end). */
int orch_log_demux_at_boundary(const struct orch_log_demux *d);

#endif
