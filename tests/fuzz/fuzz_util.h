/*
 * fuzz_util.h: what the fuzz targets share.  CHECK stops the run at the
 * first broken rule, naming it (libFuzzer then saves the input);
 * fuzz_utf8_ok() tells whether a message can go into a JSON or protobuf
 * string as it is.
 */
#ifndef ORCH_FUZZ_UTIL_H
#define ORCH_FUZZ_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static inline void
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
	abort();
}

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c))                                                      \
			fuzz_fail(__FILE__, __LINE__, #c);                     \
	} while (0)

/* True when s is valid UTF-8 with no NUL cut: json_string() checks. */
static inline bool
fuzz_utf8_ok(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

#endif
