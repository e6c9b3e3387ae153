/*
 * error.h: the one error enum of orch.
 *
 * Every function that can fail returns an int that is ORCH_OK (0) or one of
 * these codes.  errno, SQLite, NNG, curl and protobuf-c codes are translated
 * at the module boundary and never passed upward raw.
 */
#ifndef ORCH_ERROR_H
#define ORCH_ERROR_H

enum orch_err {
	ORCH_OK = 0,
	ORCH_ENOMEM,    /* out of memory */
	ORCH_EINVAL,    /* invalid argument or malformed input */
	ORCH_ENOENT,    /* no such object */
	ORCH_EEXIST,    /* object already exists */
	ORCH_EAGAIN,    /* incomplete input or busy: try again */
	ORCH_ETOOBIG,   /* input exceeds a hard limit */
	ORCH_EIO,       /* I/O error, including storage corruption */
	ORCH_ENOSPC,    /* storage full, read-only or failing: writes refused */
	ORCH_EPROTO,    /* the peer broke the protocol */
	ORCH_ETIMEDOUT, /* an operation timed out */
	ORCH_ECLOSED,   /* the object or connection is closed */
	ORCH_EUNAVAIL,  /* a service cannot be reached or is shutting down */
	ORCH_ECONFLICT, /* not allowed in the object's current state */
	ORCH_EINTERNAL, /* a bug or unexpected failure */
	ORCH_EPERM,     /* refused by a policy or the caller's identity */
};

/* Returns a short static English description of err. */
const char *orch_strerror(int err);

/* Translates an errno value to an orch_err code. */
int orch_err_from_errno(int e);

#endif
