/*
 * buf.h: a growable byte buffer with a hard cap, for answers that arrive
 * from the network (curl's capped dynbuf is the model).
 *
 * The cap is checked before allocating, so a peer that sends more than
 * it should costs no memory beyond the cap.  The bytes are always
 * NUL-terminated once anything has been appended, so a text body can be
 * read as a C string.  A file read at start is capped the same way.
 */
#ifndef ORCH_BUF_H
#define ORCH_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

struct orch_buf {
	char *p;      /* malloc'd, NUL-terminated; NULL before any append */
	size_t len;   /* bytes held, without the NUL */
	size_t cap;   /* bytes allocated, with room for the NUL */
	size_t max;   /* the most bytes len may reach */
	bool too_big; /* an append was refused: it would pass max */
	bool nomem;   /* an append was refused: out of memory */
};

/* Makes b an empty buffer that holds at most max bytes (max is lowered to
 * SIZE_MAX - 1, so that the NUL always has room). */
void orch_buf_init(struct orch_buf *b, size_t max);

/* Frees what b holds and empties it; max stays.  Safe on an empty buffer. */
void orch_buf_fini(struct orch_buf *b);

/*
 * Appends n bytes of data.  Returns n, or 0 when they would pass b->max
 * (b->too_big is set) or memory ran out (b->nomem is set); on failure b
 * keeps what it held.  The return value suits a curl write callback,
 * where anything but n aborts the transfer.
 */
size_t orch_buf_append(struct orch_buf *b, const void *data, size_t n);

/* Hands b's bytes (NULL when nothing was appended) to the caller, who
 * frees them, and empties b. */
char *orch_buf_take(struct orch_buf *b);

/*
 * Reads the regular file at path, of at most max bytes, for the
 * configuration files a program reads at start.  On ORCH_OK *out (OUT) is
 * a malloc'd copy of its *len (OUT) bytes plus a NUL, read into one
 * allocation (never moved, so a caller can wipe a secret from it), and
 * *st (OUT) its fstat.  Otherwise err says why, without the path: the
 * system's reason (ORCH_ENOENT, ORCH_EIO... from errno), "not a regular
 * file" (ORCH_EINVAL), "larger than N bytes" (ORCH_ETOOBIG) or "out of
 * memory".
 */
int orch_buf_file_read(const char *path, size_t max, char **out /* OUT */,
    size_t *len /* OUT */, struct stat *st /* OUT */, char *err, size_t errlen);

#endif
