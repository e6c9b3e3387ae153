/*
 * gw_tls.h: HTTPS for the gateway: mbed TLS on its non-blocking sockets.
 *
 * The gateway's event loop drives each connection's TLS state: the
 * handshake is advanced whenever its socket is ready in the direction the
 * last step asked for, then reads and writes go through
 * orch_gw_tls_recv/send, which behave like recv(2)/send(2) on a
 * non-blocking socket.  Two things differ from a plain socket, and the
 * gateway minds them: decrypted bytes may wait inside TLS with no socket
 * event to say so (orch_gw_tls_pending), and a write that could not
 * finish must be retried with at least as many bytes, of which only the
 * first ones it took are consumed (mbed TLS has already framed them).
 * Clients are not asked for a certificate; TLS 1.2 only.
 */
#ifndef ORCH_GW_TLS_H
#define ORCH_GW_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct orch_gw_tls;
struct orch_gw_tls_conn;

/*
 * Loads the server's certificate (chain, PEM) and its unencrypted private
 * key.  Returns ORCH_OK with *out (OUT) the caller's, or an error with err
 * saying which file is wrong.  A certificate outside its validity period
 * is logged, not refused.
 */
int orch_gw_tls_new(const char *cert_path, const char *key_path,
    struct orch_gw_tls **out /* OUT */, char *err, size_t errlen);

/* Frees t once no connection uses it.  NULL is a no-op. */
void orch_gw_tls_free(struct orch_gw_tls *t);

/* Starts TLS as the server on the accepted non-blocking socket fd (which
 * the caller keeps).  Returns NULL when out of memory. */
struct orch_gw_tls_conn *orch_gw_tls_conn_new(struct orch_gw_tls *t, int fd);

/* Sends a close notification if the socket takes it at once, and frees
 * c; the socket stays open.  NULL is a no-op. */
void orch_gw_tls_conn_free(struct orch_gw_tls_conn *c);

/*
 * Advances the handshake.  Returns ORCH_OK once it is complete,
 * ORCH_EAGAIN while it waits for the socket (*want_write (OUT): to be
 * writable, else readable), or ORCH_EPROTO when it failed, with err
 * saying why.
 */
int orch_gw_tls_handshake(struct orch_gw_tls_conn *c,
    bool *want_write /* OUT */, char *err, size_t errlen);

/* Like recv(2): the bytes read, 0 when the peer closed, or -1 with errno
 * EAGAIN (nothing yet) or ECONNRESET. */
ssize_t orch_gw_tls_recv(struct orch_gw_tls_conn *c, void *buf, size_t len);

/* Like send(2): the bytes taken, or -1 with errno EAGAIN (the socket is
 * full: call again with the same bytes, or more) or ECONNRESET. */
ssize_t orch_gw_tls_send(
    struct orch_gw_tls_conn *c, const void *buf, size_t len);

/* Whether received bytes wait inside TLS, which a socket event will not
 * announce. */
bool orch_gw_tls_pending(const struct orch_gw_tls_conn *c);

#endif
