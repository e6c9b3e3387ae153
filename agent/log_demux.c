#include "log_demux.h"

#include <stdio.h>
#include <string.h>

void
orch_log_demux_init(struct orch_log_demux *d)
{
	memset(d, 0, sizeof(*d));
}

int
orch_log_demux_feed(struct orch_log_demux *d, const char *data, size_t len,
    orch_log_demux_fn fn, void *arg, char *err, size_t errlen)
{
	size_t i = 0;
	int rc;

	if (d->failed) {
		snprintf(err, errlen,
		    "the log stream is out of step after a bad frame header");
		return -1;
	}
	while (i < len) {
		if (d->left == 0) {
			size_t take = sizeof(d->head) - d->head_len;

			if (take > len - i)
				take = len - i;
			memcpy(d->head + d->head_len, data + i, take);
			d->head_len += take;
			i += take;
			if (d->head_len < sizeof(d->head))
				break;
			d->head_len = 0;
			if (d->head[0] > ORCH_LOG_STDERR || d->head[1] != 0 ||
			    d->head[2] != 0 || d->head[3] != 0) {
				d->failed = 1;
				snprintf(err, errlen,
				    "not a log frame header: %02x %02x %02x "
				    "%02x (want a stream 0 to 2 and three "
				    "zero bytes)",
				    d->head[0], d->head[1], d->head[2],
				    d->head[3]);
				return -1;
			}
			d->stream = d->head[0];
			d->left = (uint64_t)d->head[4] << 24 |
			    (uint64_t)d->head[5] << 16 |
			    (uint64_t)d->head[6] << 8 | (uint64_t)d->head[7];
			continue;
		}
		{
			size_t take = len - i;

			if ((uint64_t)take > d->left)
				take = (size_t)d->left;
			d->left -= take;
			if ((rc = fn(arg, d->stream, data + i, take)) != 0)
				return rc;
			i += take;
		}
	}
	return 0;
}

int
orch_log_demux_at_boundary(const struct orch_log_demux *d)
{
	return !d->failed && d->left == 0 && d->head_len == 0;
}
