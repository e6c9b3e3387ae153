/*
 * test_buf.c: the capped buffer (services/common/buf.c) that collects
 * Docker's and the manager's answers: the cap exactly at its edge, the
 * NUL after the bytes, growth, and handing the bytes over.
 */
#include "harness.h"

#include <stdint.h>

#include "buf.h"
#include "error.h"

/* Appends n bytes of c from a heap block of exactly n bytes, so that the
 * sanitizers catch a read past the end. */
static size_t
append_fill(struct orch_buf *b, char c, size_t n)
{
	char *data = malloc(n > 0 ? n : 1);
	size_t got;

	ASSERT(data != NULL);
	memset(data, c, n);
	got = orch_buf_append(b, data, n);
	free(data);
	return got;
}

static void
test_empty(void)
{
	struct orch_buf b;

	orch_buf_init(&b, 100);
	ASSERT(b.p == NULL);
	ASSERT_INT_EQ(b.len, 0);
	ASSERT_INT_EQ(b.max, 100);
	ASSERT(!b.too_big && !b.nomem);
	ASSERT(orch_buf_take(&b) == NULL);
	orch_buf_fini(&b);
	orch_buf_fini(&b);
	ASSERT(b.p == NULL);
}

static void
test_nul_terminated(void)
{
	struct orch_buf b;

	orch_buf_init(&b, 1024);
	ASSERT_INT_EQ(orch_buf_append(&b, "abc", 3), 3);
	ASSERT_INT_EQ(b.len, 3);
	ASSERT_STR_EQ(b.p, "abc");
	ASSERT_INT_EQ(orch_buf_append(&b, "de", 2), 2);
	ASSERT_STR_EQ(b.p, "abcde");
	/* Bytes are bytes: an embedded NUL is kept and counted. */
	ASSERT_INT_EQ(orch_buf_append(&b, "\0f", 2), 2);
	ASSERT_INT_EQ(b.len, 7);
	ASSERT(memcmp(b.p, "abcde\0f", 8) == 0);
	/* An empty append changes nothing and is not a failure. */
	ASSERT_INT_EQ(orch_buf_append(&b, "", 0), 0);
	ASSERT_INT_EQ(b.len, 7);
	ASSERT(b.p[7] == '\0');
	ASSERT(!b.too_big && !b.nomem);
	orch_buf_fini(&b);
	ASSERT(b.p == NULL);
	ASSERT_INT_EQ(b.len, 0);
}

/* max bytes fit, one more does not, whichever append reaches it. */
static void
test_cap_edge(void)
{
	const size_t max = 10000;
	struct orch_buf b;

	/* Exactly max at once. */
	orch_buf_init(&b, max);
	ASSERT_INT_EQ(append_fill(&b, 'x', max), max);
	ASSERT_INT_EQ(b.len, max);
	ASSERT(b.p[max] == '\0');
	ASSERT(b.cap <= max + 1);
	ASSERT(!b.too_big);
	/* Not one byte more, and what was held stays. */
	ASSERT_INT_EQ(orch_buf_append(&b, "y", 1), 0);
	ASSERT(b.too_big);
	ASSERT_INT_EQ(b.len, max);
	ASSERT(b.p[max - 1] == 'x' && b.p[max] == '\0');
	orch_buf_fini(&b);

	/* max + 1 at once is refused before anything is allocated. */
	orch_buf_init(&b, max);
	ASSERT_INT_EQ(append_fill(&b, 'x', max + 1), 0);
	ASSERT(b.too_big);
	ASSERT(b.p == NULL);
	ASSERT_INT_EQ(b.cap, 0);
	orch_buf_fini(&b);

	/* Reached in pieces: max - 1, then 2 is refused, then 1 fits. */
	orch_buf_init(&b, max);
	ASSERT_INT_EQ(append_fill(&b, 'a', max - 1), max - 1);
	ASSERT_INT_EQ(append_fill(&b, 'b', 2), 0);
	ASSERT(b.too_big);
	ASSERT_INT_EQ(b.len, max - 1);
	ASSERT_INT_EQ(append_fill(&b, 'c', 1), 1);
	ASSERT_INT_EQ(b.len, max);
	ASSERT(b.p[max - 1] == 'c' && b.p[max] == '\0');
	orch_buf_fini(&b);

	/* A cap of nothing holds nothing, but an empty append is fine. */
	orch_buf_init(&b, 0);
	ASSERT_INT_EQ(orch_buf_append(&b, "", 0), 0);
	ASSERT(!b.too_big);
	ASSERT(b.p != NULL && b.p[0] == '\0');
	ASSERT_INT_EQ(orch_buf_append(&b, "a", 1), 0);
	ASSERT(b.too_big);
	orch_buf_fini(&b);

	/* An unlimited cap still leaves room for the NUL. */
	orch_buf_init(&b, SIZE_MAX);
	ASSERT(b.max < SIZE_MAX);
	ASSERT_INT_EQ(orch_buf_append(&b, "ab", 2), 2);
	ASSERT_STR_EQ(b.p, "ab");
	orch_buf_fini(&b);
}

/* Many small appends grow the buffer past its first allocation, keep
 * every byte in order, and never allocate past the cap. */
static void
test_growth(void)
{
	const size_t max = 1000000;
	struct orch_buf b;
	size_t last_cap = 0, grew = 0, rest;
	char chunk[97];

	orch_buf_init(&b, max);
	while (b.len + sizeof(chunk) <= max) {
		for (size_t j = 0; j < sizeof(chunk); j++)
			chunk[j] = (char)('a' + (b.len + j) % 26);
		ASSERT_INT_EQ(
		    orch_buf_append(&b, chunk, sizeof(chunk)), sizeof(chunk));
		ASSERT(b.p[b.len] == '\0');
		ASSERT(b.cap > b.len && b.cap <= max + 1);
		if (b.cap != last_cap) {
			grew++;
			last_cap = b.cap;
		}
	}
	/* Doubling: a handful of reallocations, not one per append. */
	ASSERT(grew > 1 && grew < 20);
	for (size_t i = 0; i < b.len; i++)
		ASSERT(b.p[i] == (char)('a' + i % 26));
	/* The last bytes up to the cap fit exactly. */
	rest = max - b.len;
	ASSERT_INT_EQ(append_fill(&b, 'z', rest), rest);
	ASSERT_INT_EQ(b.len, max);
	ASSERT_INT_EQ(b.cap, max + 1);
	ASSERT(b.p[max] == '\0');
	ASSERT_INT_EQ(orch_buf_append(&b, "z", 1), 0);
	ASSERT(b.too_big);
	orch_buf_fini(&b);
}

static void
test_take(void)
{
	struct orch_buf b;
	char *p;

	orch_buf_init(&b, 64);
	ASSERT_INT_EQ(orch_buf_append(&b, "hello", 5), 5);
	p = orch_buf_take(&b);
	ASSERT_STR_EQ(p, "hello");
	ASSERT(b.p == NULL);
	ASSERT_INT_EQ(b.len, 0);
	ASSERT_INT_EQ(b.cap, 0);
	ASSERT_INT_EQ(b.max, 64);
	/* Empty again, b takes new bytes and p is the caller's. */
	ASSERT_INT_EQ(orch_buf_append(&b, "again", 5), 5);
	ASSERT_STR_EQ(b.p, "again");
	free(p);
	orch_buf_fini(&b);
}

/* A configuration file read whole, up to its cap and not a byte more. */
static void
test_file_read(void)
{
	char *dir = h_tmpdir("buf"), path[512], err[256], *out = NULL;
	struct stat st;
	size_t len = 99;
	FILE *f;

	snprintf(path, sizeof(path), "%s/f", dir);
	f = fopen(path, "w");
	ASSERT(f != NULL);
	ASSERT(fputs("0123456789", f) >= 0);
	ASSERT(fclose(f) == 0);
	ASSERT_INT_EQ(
	    orch_buf_file_read(path, 10, &out, &len, &st, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(len, 10);
	ASSERT_STR_EQ(out, "0123456789");
	ASSERT_INT_EQ(st.st_size, 10);
	free(out);
	ASSERT_INT_EQ(
	    orch_buf_file_read(path, 9, &out, &len, &st, err, sizeof(err)),
	    ORCH_ETOOBIG);
	ASSERT(out == NULL);
	ASSERT_STR_CONTAINS(err, "larger than 9 bytes");
	ASSERT_INT_EQ(
	    orch_buf_file_read(dir, 9, &out, &len, &st, err, sizeof(err)),
	    ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "not a regular file");
	snprintf(path, sizeof(path), "%s/missing", dir);
	ASSERT_INT_EQ(
	    orch_buf_file_read(path, 9, &out, &len, &st, err, sizeof(err)),
	    ORCH_ENOENT);
	ASSERT_STR_CONTAINS(err, "No such file");
	h_rm_rf(dir);
	free(dir);
}

int
main(void)
{
	RUN(test_empty);
	RUN(test_nul_terminated);
	RUN(test_cap_edge);
	RUN(test_growth);
	RUN(test_take);
	RUN(test_file_read);
	return 0;
}
