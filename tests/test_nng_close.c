/*
 * test_nng_close.c: orch_nng_close_within(), the bounded close the
 * manager exits with.  A close that cannot finish is made here the way
 * NNG 1.5.2's bug makes one (nanomsg/nng#1636): a pipe whose teardown
 * does not return, holding NNG's reaper; here a pipe callback that waits
 * until the test lets it go.
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "error.h"
#include "harness.h"
#include "rpc_client.h"

static void
test_closes(void)
{
	nng_socket s;

	ASSERT(nng_rep0_open(&s) == 0);
	ASSERT(nng_listen(s, "inproc://orch-close-plain", NULL, 0) == 0);
	ASSERT_INT_EQ(orch_nng_close_within(s, 10000, "test"), ORCH_OK);
	/* Closed: the socket is gone. */
	ASSERT_INT_EQ(nng_send(s, "x", 1, 0), NNG_ECLOSED);
}

/* The pipe callback that holds a close up until released. */
static pthread_mutex_t hold_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cv = PTHREAD_COND_INITIALIZER;
static bool held, released;

static void
hold_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)ev;
	(void)arg;
	pthread_mutex_lock(&hold_mu);
	held = true;
	while (!released)
		pthread_cond_wait(&hold_cv, &hold_mu);
	pthread_mutex_unlock(&hold_mu);
}

static bool
is_held(void *arg)
{
	bool h;

	(void)arg;
	pthread_mutex_lock(&hold_mu);
	h = held;
	pthread_mutex_unlock(&hold_mu);
	return h;
}

/* Whether socket *arg is closed.  A send on a REP socket that holds no
 * request is refused with NNG_ESTATE while it is open, and changes
 * nothing. */
static bool
is_closed(void *arg)
{
	int rv = nng_send(*(nng_socket *)arg, "x", 1, 0);

	ASSERT(rv == NNG_ESTATE || rv == NNG_ECLOSED);
	return rv == NNG_ECLOSED;
}

/* A close that does not finish: the wait ends with ORCH_ETIMEDOUT, and
 * the close finishes on its own once it can. */
static void
test_gives_up(void)
{
	nng_socket rep, req;
	char buf[8];
	size_t len = sizeof(buf);

	ASSERT(nng_rep0_open(&rep) == 0);
	ASSERT(nng_req0_open(&req) == 0);
	ASSERT(
	    nng_pipe_notify(rep, NNG_PIPE_EV_REM_POST, hold_pipe, NULL) == 0);
	ASSERT(nng_listen(rep, "inproc://orch-close-held", NULL, 0) == 0);
	ASSERT(nng_dial(req, "inproc://orch-close-held", NULL, 0) == 0);
	/* A round trip: the REP side has its pipe. */
	ASSERT(nng_send(req, "ping", 4, 0) == 0);
	ASSERT(nng_recv(rep, buf, &len, 0) == 0);
	ASSERT(nng_send(rep, "pong", 4, 0) == 0);
	len = sizeof(buf);
	ASSERT(nng_recv(req, buf, &len, 0) == 0);

	ASSERT_INT_EQ(orch_nng_close_within(rep, 100, "test"), ORCH_ETIMEDOUT);
	ASSERT(h_wait_until(is_held, NULL, 10000));
	pthread_mutex_lock(&hold_mu);
	released = true;
	pthread_cond_broadcast(&hold_cv);
	pthread_mutex_unlock(&hold_mu);
	/* The reaper goes on: the other socket's close finishes, and the
	 * first one (its thread, scheduled when the machine lets it). */
	ASSERT_INT_EQ(orch_nng_close_within(req, 10000, "test"), ORCH_OK);
	ASSERT(h_wait_until(is_closed, &rep, 10000));
}

int
main(void)
{
	RUN(test_closes);
	RUN(test_gives_up);
	return 0;
}
