/*
 * idem.c: the form of idempotency keys (see idem.h).
 */
#include "idem.h"

#include <stdio.h>

#include "error.h"

int
orch_idem_key_check(const char *key, size_t len, char *err, size_t errlen)
{
	if (key == NULL || len == 0 || len > ORCH_IDEM_KEY_MAX) {
		snprintf(err, errlen,
		    "an idempotency key is 1 to %d printable ASCII "
		    "characters, not %zu characters",
		    ORCH_IDEM_KEY_MAX, key != NULL ? len : 0);
		return ORCH_EINVAL;
	}
	/* '"' and '\' are left out so that a key reads the same bare and
	 * as the quoted string of the IETF draft's header. */
	for (size_t i = 0; i < len; i++) {
		if (key[i] < ' ' || key[i] > '~' || key[i] == '"' ||
		    key[i] == '\\') {
			snprintf(err, errlen,
			    "an idempotency key is 1 to %d printable "
			    "ASCII characters other than '\"' and '\\': "
			    "byte %zu is 0x%02x",
			    ORCH_IDEM_KEY_MAX, i + 1, (unsigned char)key[i]);
			return ORCH_EINVAL;
		}
	}
	return ORCH_OK;
}
