#include "error.h"

#include <errno.h>

const char *
orch_strerror(int err)
{
	switch (err) {
	case ORCH_OK: return "success";
	case ORCH_ENOMEM: return "out of memory";
	case ORCH_EINVAL: return "invalid argument";
	case ORCH_ENOENT: return "not found";
	case ORCH_EEXIST: return "already exists";
	case ORCH_EAGAIN: return "try again";
	case ORCH_ETOOBIG: return "too large";
	case ORCH_EIO: return "I/O error";
	case ORCH_ENOSPC: return "storage full or read-only";
	case ORCH_EPROTO: return "protocol error";
	case ORCH_ETIMEDOUT: return "timed out";
	case ORCH_ECLOSED: return "closed";
	case ORCH_EUNAVAIL: return "unavailable";
	case ORCH_ECONFLICT: return "conflict";
	case ORCH_EINTERNAL: return "internal error";
	case ORCH_EPERM: return "permission denied";
	}
	return "unknown error";
}

int
orch_err_from_errno(int e)
{
	switch (e) {
	case 0: return ORCH_OK;
	case ENOMEM: return ORCH_ENOMEM;
	case EINVAL: return ORCH_EINVAL;
	case ENOENT: return ORCH_ENOENT;
	case EEXIST: return ORCH_EEXIST;
	case EAGAIN: return ORCH_EAGAIN;
	case E2BIG:
	case EMSGSIZE:
	case EFBIG: return ORCH_ETOOBIG;
	case ENOSPC:
	case EROFS:
	case EDQUOT: return ORCH_ENOSPC;
	case ETIMEDOUT: return ORCH_ETIMEDOUT;
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH: return ORCH_EUNAVAIL;
	case EPIPE:
	case ECONNRESET: return ORCH_ECLOSED;
	case EPROTO: return ORCH_EPROTO;
	}
	return ORCH_EIO;
}
