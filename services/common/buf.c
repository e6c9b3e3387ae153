#include "buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

/* The first allocation: most answers (a task, a short list) fit. */
#define BUF_FIRST 4096

void
orch_buf_init(struct orch_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max < SIZE_MAX ? max : SIZE_MAX - 1;
}

void
orch_buf_fini(struct orch_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

size_t
orch_buf_append(struct orch_buf *b, const void *data, size_t n)
{
	size_t need, cap;
	char *p;

	/* Checked before allocating, so a huge answer never costs memory. */
	if (n > b->max - b->len) {
		b->too_big = true;
		return 0;
	}
	need = b->len + n + 1;
	if (need > b->cap) {
		cap = b->cap > 0 ? b->cap : BUF_FIRST;
		/* Doubling stops at the cap (plus the NUL), never wrapping. */
		while (cap < need)
			cap = cap > b->max / 2 ? b->max + 1 : cap * 2;
		if (cap > b->max + 1)
			cap = b->max + 1;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->nomem = true;
			return 0;
		}
		b->p = p;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

char *
orch_buf_take(struct orch_buf *b)
{
	char *p = b->p;

	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

int
orch_buf_file_read(const char *path, size_t max, char **out, size_t *len,
    struct stat *st, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t n = 0;
	ssize_t r;
	int fd, rc;

	*out = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, st) != 0) {
		rc = orch_err_from_errno(errno);
		snprintf(err, errlen, "%s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st->st_mode)) {
		rc = ORCH_EINVAL;
		snprintf(err, errlen, "not a regular file");
		goto out;
	}
	if (max >= SIZE_MAX || (buf = malloc(max + 1)) == NULL) {
		rc = ORCH_ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* One byte past max tells a file that is too large. */
	while (n <= max && (r = read(fd, buf + n, max + 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = orch_err_from_errno(errno);
			snprintf(err, errlen, "%s", strerror(errno));
			goto out;
		}
		n += (size_t)r;
	}
	if (n > max) {
		rc = ORCH_ETOOBIG;
		snprintf(err, errlen, "larger than %zu bytes", max);
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
	rc = ORCH_OK;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}
