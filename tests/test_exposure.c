/*
 * test_exposure.c: telling loopback listeners from those other hosts can
 * reach, for HTTP's HOST:PORT and NNG URLs, and the refusal (or, with
 * --insecure, the warning) for an unguarded one.  Nothing listens here:
 * only addresses are read.
 */
#include "error.h"
#include "exposure.h"
#include "harness.h"

static void
test_reach(void)
{
	static const struct {
		const char *addr;
		bool nng_url;
		enum orch_reach want;
	} cases[] = {
	    /* HOST:PORT, as --http takes it. */
	    {"127.0.0.1:3000", false, ORCH_REACH_LOCAL},
	    {"127.8.9.10:3000", false, ORCH_REACH_LOCAL},
	    {"[::1]:3000", false, ORCH_REACH_LOCAL},
	    {"[::ffff:127.0.0.1]:3000", false, ORCH_REACH_LOCAL},
	    {"localhost:3000", false, ORCH_REACH_LOCAL},
	    {"0.0.0.0:3000", false, ORCH_REACH_NETWORK},
	    {"[::]:3000", false, ORCH_REACH_NETWORK},
	    {"10.1.2.3:3000", false, ORCH_REACH_NETWORK},
	    {"[2001:db8::1]:3000", false, ORCH_REACH_NETWORK},
	    {"128.0.0.1:3000", false, ORCH_REACH_NETWORK},
	    /* Malformed: the gateway's own error says why. */
	    {"no-port", false, ORCH_REACH_UNKNOWN},
	    {"[::1:3000", false, ORCH_REACH_UNKNOWN},
	    /* NNG URLs, as --rpc and --pub take them. */
	    {"tcp://127.0.0.1:3001", true, ORCH_REACH_LOCAL},
	    {"tcp://[::1]:3001", true, ORCH_REACH_LOCAL},
	    {"tls+tcp://localhost:3001", true, ORCH_REACH_LOCAL},
	    {"ws://127.0.0.1:3001/orch", true, ORCH_REACH_LOCAL},
	    {"ipc:///tmp/orch.sock", true, ORCH_REACH_LOCAL},
	    {"inproc://x", true, ORCH_REACH_LOCAL},
	    {"tcp://0.0.0.0:3001", true, ORCH_REACH_NETWORK},
	    {"tcp://*:3001", true, ORCH_REACH_NETWORK},
	    {"tcp://:3001", true, ORCH_REACH_NETWORK},
	    {"tcp6://[::]:3001", true, ORCH_REACH_NETWORK},
	    {"ws://0.0.0.0:3001/orch", true, ORCH_REACH_NETWORK},
	    {"tls+tcp://0.0.0.0:3001", true, ORCH_REACH_NETWORK},
	    {"tls+tcp://[::]:3001", true, ORCH_REACH_NETWORK},
	    {"tls+tcp://10.0.0.5:3001", true, ORCH_REACH_NETWORK},
	    {"tls+tcp://127.8.9.10:3001", true, ORCH_REACH_LOCAL},
	    {"127.0.0.1:3001", true, ORCH_REACH_UNKNOWN},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum orch_reach got =
		    orch_listen_reach(cases[i].addr, cases[i].nng_url);

		if (got != cases[i].want)
			h_fail(__FILE__, __LINE__, "%s: reach %d, want %d",
			    cases[i].addr, (int)got, (int)cases[i].want);
	}
}

static void
test_check(void)
{
	struct orch_listener l[] = {
	    {.flag = "--http",
	        .addr = "127.0.0.1:3000",
	        .guard = "give --token-file FILE"},
	    {.flag = "--rpc",
	        .addr = "tcp://127.0.0.1:3001",
	        .nng_url = true,
	        .guard = "give --tls-dir DIR"},
	};
	char err[1024] = "";

	ASSERT_INT_EQ(
	    orch_exposure_check(l, 2, false, err, sizeof(err)), ORCH_OK);
	/* Beyond loopback unguarded: refused, naming the flag, the address
	 * and both ways out. */
	l[1].addr = "tcp://0.0.0.0:3001";
	ASSERT_INT_EQ(
	    orch_exposure_check(l, 2, false, err, sizeof(err)), ORCH_EPERM);
	ASSERT_STR_CONTAINS(err, "--rpc tcp://0.0.0.0:3001");
	ASSERT_STR_CONTAINS(err, "give --tls-dir DIR");
	ASSERT_STR_CONTAINS(err, "127.0.0.1");
	ASSERT_STR_CONTAINS(err, "--insecure");
	l[0].addr = "0.0.0.0:3000";
	ASSERT_INT_EQ(
	    orch_exposure_check(l, 2, false, err, sizeof(err)), ORCH_EPERM);
	ASSERT_STR_CONTAINS(err, "--http 0.0.0.0:3000");
	ASSERT_STR_CONTAINS(err, "give --token-file FILE");
	/* Guarded, or --insecure: started. */
	l[0].guarded = true;
	l[1].guarded = true;
	ASSERT_INT_EQ(
	    orch_exposure_check(l, 2, false, err, sizeof(err)), ORCH_OK);
	l[0].guarded = false;
	l[1].guarded = false;
	ASSERT_INT_EQ(
	    orch_exposure_check(l, 2, true, err, sizeof(err)), ORCH_OK);
}

int
main(void)
{
	RUN(test_reach);
	RUN(test_check);
	return 0;
}
