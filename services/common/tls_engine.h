/*
 * tls_engine.h: orch's TLS engine for NNG's tls+tcp:// transport.
 *
 * NNG 1.5 runs TLS through a pluggable "engine" (nng/supplemental/tls/
 * engine.h).  Its built-in mbed TLS engine verifies certificates but tells
 * the application nothing about them: no peer name (NNG_OPT_TLS_PEER_CN
 * came in NNG 1.6) and no reason when a handshake fails (a refused peer
 * simply never becomes a pipe).  orch registers this engine instead, on
 * the same mbed TLS, with the same semantics for every nng_tls_config
 * call, plus two things:
 *
 *  - a handshake that fails is logged with the reason (no certificate,
 *    expired, not from the cluster's CA, not TLS at all ...) and the name
 *    and issuer of the certificate offered, once per minute per message;
 *  - orch_tls_engine_peer() gives the CN of the verified certificate
 *    behind a pipe.
 *
 * NNG gives an engine no handle on the connection's addresses, so the log
 * of a refused handshake cannot say which address it came from; a peer
 * that completes it is logged with its address (tls.h).
 */
#ifndef ORCH_TLS_ENGINE_H
#define ORCH_TLS_ENGINE_H

#include <nng/nng.h>
#include <stdbool.h>
#include <stddef.h>

/* The longest peer name kept (a node name is at most 128 bytes). */
#define ORCH_TLS_NAME_MAX 128

/*
 * Makes this engine NNG's TLS engine for the process, once; every
 * nng_tls_config allocated afterwards uses it.  Call before allocating
 * one (the functions of tls.h do).  Returns ORCH_OK, or ORCH_EUNAVAIL
 * when this NNG was built without TLS.
 */
int orch_tls_engine_install(void);

/*
 * The subject CN of the certificate the peer of pipe p presented, when
 * the handshake verified it, copied to cn (len bytes).  Returns ORCH_OK;
 * ORCH_ENOENT when p is not a TLS pipe or its peer presented no verified
 * certificate with a CN; ORCH_ETOOBIG when the name does not fit in len
 * bytes; ORCH_ECLOSED when p is gone.
 */
int orch_tls_engine_peer(nng_pipe p, char *cn /* OUT */, size_t len);

/* Logs a refusal (a handshake, a node acting under another's name) as a
 * warning once per minute for each distinct message, since a refused peer
 * tries again and again; the repeats go to the debug level. */
void orch_tls_log_refusal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
