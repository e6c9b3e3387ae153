/*
 * idem.h: idempotency keys, as clients give them (the Idempotency-Key
 * header of POST /tasks and POST /services, the idempotency_key field of
 * SubmitTask and CreateService) and the manager keeps them (store.h).
 */
#ifndef ORCH_IDEM_H
#define ORCH_IDEM_H

#include <stddef.h>

/* The longest idempotency key. */
#define ORCH_IDEM_KEY_MAX 255

/*
 * Checks an idempotency key of len bytes: 1 to ORCH_IDEM_KEY_MAX printable
 * ASCII characters (' ' to '~') other than '"' and '\'.  On failure writes
 * a message naming what is wrong into err.  Returns ORCH_OK or
 * ORCH_EINVAL.
 */
int orch_idem_key_check(const char *key, size_t len, char *err, size_t errlen);

#endif
