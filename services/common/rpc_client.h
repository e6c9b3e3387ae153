/*
 * rpc_client.h: calling the manager's RPC methods over an NNG REQ socket.
 *
 * Wraps the input message in an orch.Request, sends it, and unwraps the
 * orch.Reply (proto/README.md describes the framing).
 */
#ifndef ORCH_RPC_CLIENT_H
#define ORCH_RPC_CLIENT_H

#include <nng/nng.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/*
 * Calls method ("orch.Manager/GetTask") with input in on socket s (a REQ
 * socket).  On ORCH_OK *out (OUT) is the reply body unpacked with out_desc,
 * owned by the caller (free with protobuf_c_message_free_unpacked).  On
 * error err holds the reason: the manager's message for its errors, which
 * map to ORCH_EINVAL, ORCH_ENOENT, ORCH_ECONFLICT, ORCH_EUNAVAIL,
 * ORCH_EPERM (PERMISSION_DENIED), ORCH_EINTERNAL; transport failures map to
 * ORCH_ETIMEDOUT, ORCH_ECLOSED, ORCH_EUNAVAIL; a reply that does not decode is
 * ORCH_EPROTO.
 */
int orch_rpc_call(nng_socket s, const char *method, const ProtobufCMessage *in,
    const ProtobufCMessageDescriptor *out_desc, ProtobufCMessage **out,
    char *err, size_t errlen);

/*
 * orch_rpc_call on context ctx of a REQ socket, with aio (no callback)
 * for its send and its receive, each bounded by timeout_ms: the calls of
 * several contexts of one socket are in flight at once.  Same results.
 */
int orch_rpc_call_ctx(nng_ctx ctx, nng_aio *aio, int timeout_ms,
    const char *method, const ProtobufCMessage *in,
    const ProtobufCMessageDescriptor *out_desc, ProtobufCMessage **out,
    char *err, size_t errlen);

/* Translates an NNG error code to an orch_err code. */
int orch_err_from_nng(int rv);

/*
 * Closes socket s, waiting at most timeout_ms for nng_close() to return.
 * NNG 1.5.2 (Debian 12's) can hang for ever closing a TCP pipe that a
 * message reaches as it closes (nanomsg/nng#1636, fixed in 1.6.0); the
 * pipe's teardown then also holds up NNG's one reaper thread, so that
 * closing any other socket with connections can hang after it.  A
 * process that is exiting must not wait on that: the close goes on in a
 * detached thread, which the exit ends, and a warning is logged under
 * component what.  Use only for a socket none of the caller's aios is
 * busy on (they may be freed at once).  Returns ORCH_OK once closed, or
 * ORCH_ETIMEDOUT with the close still running.
 */
int orch_nng_close_within(nng_socket s, int timeout_ms, const char *what);

/* The wait the manager gives each socket's close as it exits: a close
 * takes milliseconds, and the harness allows an exit 10 s for two. */
#define ORCH_NNG_CLOSE_WAIT_MS 2000

#endif
