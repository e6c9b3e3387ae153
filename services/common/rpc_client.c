#include "rpc_client.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "error.h"
#include "log.h"
#include "orch.pb-c.h"

int
orch_err_from_nng(int rv)
{
	switch (rv) {
	case 0: return ORCH_OK;
	case NNG_ENOMEM: return ORCH_ENOMEM;
	case NNG_EINVAL:
	case NNG_EADDRINVAL: return ORCH_EINVAL;
	case NNG_ETIMEDOUT: return ORCH_ETIMEDOUT;
	case NNG_ECLOSED:
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT: return ORCH_ECLOSED;
	case NNG_ECONNREFUSED:
	case NNG_EUNREACHABLE:
	case NNG_EADDRINUSE: return ORCH_EUNAVAIL;
	case NNG_EMSGSIZE: return ORCH_ETOOBIG;
	case NNG_EPROTO: return ORCH_EPROTO;
	case NNG_EAGAIN: return ORCH_EAGAIN;
	}
	return ORCH_EIO;
}

static int
err_from_code(int code)
{
	switch (code) {
	case ORCH__ERROR_CODE__OK: return ORCH_OK;
	case ORCH__ERROR_CODE__INVALID_ARGUMENT: return ORCH_EINVAL;
	case ORCH__ERROR_CODE__NOT_FOUND: return ORCH_ENOENT;
	case ORCH__ERROR_CODE__CONFLICT: return ORCH_ECONFLICT;
	case ORCH__ERROR_CODE__UNAVAILABLE: return ORCH_EUNAVAIL;
	case ORCH__ERROR_CODE__PERMISSION_DENIED: return ORCH_EPERM;
	}
	return ORCH_EINTERNAL;
}

/* Packs in as the body of an orch.Request for method into *wire (OUT,
 * malloc'd, *wlen bytes). */
static int
request_pack(const char *method, const ProtobufCMessage *in, uint8_t **wire,
    size_t *wlen)
{
	Orch__Request req = ORCH__REQUEST__INIT;
	uint8_t *body;
	size_t blen = protobuf_c_message_get_packed_size(in);

	*wire = NULL;
	if ((body = malloc(blen > 0 ? blen : 1)) == NULL)
		return ORCH_ENOMEM;
	protobuf_c_message_pack(in, body);
	req.method = (char *)method;
	req.has_body = 1;
	req.body.data = body;
	req.body.len = blen;
	*wlen = orch__request__get_packed_size(&req);
	if ((*wire = malloc(*wlen > 0 ? *wlen : 1)) != NULL)
		orch__request__pack(&req, *wire);
	free(body);
	return *wire != NULL ? ORCH_OK : ORCH_ENOMEM;
}

/* Unwraps the orch.Reply in msg: the manager's error, or its body
 * unpacked with out_desc into *out (OUT). */
static int
reply_unpack(nng_msg *msg, const char *method,
    const ProtobufCMessageDescriptor *out_desc, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	Orch__Reply *rep;
	int rc = ORCH_OK;

	rep = orch__reply__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
	if (rep == NULL) {
		snprintf(
		    err, errlen, "%s: the reply is not an orch.Reply", method);
		return ORCH_EPROTO;
	}
	if (rep->code != ORCH__ERROR_CODE__OK) {
		rc = err_from_code(rep->code);
		snprintf(err, errlen, "%s",
		    rep->error != NULL ? rep->error
		                       : "error without a message");
		goto out;
	}
	*out = protobuf_c_message_unpack(out_desc, NULL,
	    rep->has_body ? rep->body.len : 0,
	    rep->has_body ? rep->body.data : NULL);
	if (*out == NULL) {
		rc = ORCH_EPROTO;
		snprintf(err, errlen, "%s: the reply body is not a %s", method,
		    out_desc->name);
	}
out:
	orch__reply__free_unpacked(rep, NULL);
	return rc;
}

int
orch_rpc_call(nng_socket s, const char *method, const ProtobufCMessage *in,
    const ProtobufCMessageDescriptor *out_desc, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	uint8_t *wire = NULL;
	size_t wlen;
	nng_msg *msg = NULL;
	int rv, rc;

	*out = NULL;
	if ((rc = request_pack(method, in, &wire, &wlen)) != ORCH_OK)
		return rc;
	if ((rv = nng_send(s, wire, wlen, 0)) != 0 ||
	    (rv = nng_recvmsg(s, &msg, 0)) != 0) {
		rc = orch_err_from_nng(rv);
		snprintf(err, errlen, "%s: %s", method, nng_strerror(rv));
		goto out;
	}
	rc = reply_unpack(msg, method, out_desc, out, err, errlen);
out:
	if (msg != NULL)
		nng_msg_free(msg);
	free(wire);
	return rc;
}

int
orch_rpc_call_ctx(nng_ctx ctx, nng_aio *aio, int timeout_ms, const char *method,
    const ProtobufCMessage *in, const ProtobufCMessageDescriptor *out_desc,
    ProtobufCMessage **out, char *err, size_t errlen)
{
	uint8_t *wire = NULL;
	size_t wlen;
	nng_msg *msg = NULL;
	int rv, rc;

	*out = NULL;
	if ((rc = request_pack(method, in, &wire, &wlen)) != ORCH_OK)
		return rc;
	if ((rv = nng_msg_alloc(&msg, wlen)) != 0) {
		rc = orch_err_from_nng(rv);
		snprintf(err, errlen, "%s: %s", method, nng_strerror(rv));
		goto out;
	}
	memcpy(nng_msg_body(msg), wire, wlen);
	nng_aio_set_msg(aio, msg);
	nng_aio_set_timeout(aio, timeout_ms);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		/* Not sent: the message is still ours. */
		nng_aio_set_msg(aio, NULL);
		goto fail;
	}
	msg = NULL;
	nng_aio_set_timeout(aio, timeout_ms);
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0)
		goto fail;
	msg = nng_aio_get_msg(aio);
	rc = reply_unpack(msg, method, out_desc, out, err, errlen);
	goto out;
fail:
	rc = orch_err_from_nng(rv);
	snprintf(err, errlen, "%s: %s", method, nng_strerror(rv));
out:
	if (msg != NULL)
		nng_msg_free(msg);
	free(wire);
	return rc;
}

/* One close: whichever of the closer and the waiter is last frees it. */
struct close_job {
	nng_socket s;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;      /* nng_close() returned */
	bool abandoned; /* the waiter gave up: the closer frees the job */
};

static void
close_job_free(struct close_job *j)
{
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

static void *
close_main(void *arg)
{
	struct close_job *j = arg;
	bool abandoned;

	nng_close(j->s);
	pthread_mutex_lock(&j->mu);
	j->done = true;
	abandoned = j->abandoned;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	if (abandoned)
		close_job_free(j);
	return NULL;
}

int
orch_nng_close_within(nng_socket s, int timeout_ms, const char *what)
{
	struct close_job *j;
	pthread_condattr_t ca;
	pthread_attr_t ta;
	struct timespec until;
	pthread_t t;
	bool done;
	int rv;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		goto inline_close;
	j->s = s;
	if (pthread_mutex_init(&j->mu, NULL) != 0)
		goto free_job;
	/* Monotonic: a clock step must not cut the wait short. */
	if (pthread_condattr_init(&ca) != 0)
		goto free_mu;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rv = pthread_cond_init(&j->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (rv != 0)
		goto free_mu;
	if (pthread_attr_init(&ta) != 0)
		goto free_cv;
	pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	rv = pthread_create(&t, &ta, close_main, j);
	pthread_attr_destroy(&ta);
	if (rv != 0)
		goto free_cv;
	orch_mono_deadline(timeout_ms, &until);
	pthread_mutex_lock(&j->mu);
	while (!j->done && pthread_cond_timedwait(&j->cv, &j->mu, &until) == 0)
		;
	done = j->done;
	j->abandoned = !done;
	pthread_mutex_unlock(&j->mu);
	if (!done) {
		orch_warn(what,
		    "a socket did not close within %d ms (NNG 1.5.2, "
		    "nanomsg/nng#1636): going on without it",
		    timeout_ms);
		return ORCH_ETIMEDOUT;
	}
	close_job_free(j);
	return ORCH_OK;
free_cv:
	pthread_cond_destroy(&j->cv);
free_mu:
	pthread_mutex_destroy(&j->mu);
free_job:
	free(j);
inline_close:
	/* No thread to wait with (out of resources): close unbounded. */
	nng_close(s);
	return ORCH_OK;
}
