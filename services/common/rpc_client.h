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

/* Translates an NNG error code to an orch_err code. */
int orch_err_from_nng(int rv);

#endif
