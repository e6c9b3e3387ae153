/*
 * certs.h: the cluster's certificate authority (orch-manager certs).
 *
 * A certificate directory, made by orch_certs_init and filled by
 * orch_certs_issue:
 *
 *   DIR/ca.crt, DIR/ca.key             the cluster CA (the key never leaves
 *                                      the manager's machine)
 *   DIR/manager.crt, DIR/manager.key   the manager's certificate, for the
 *                                      hosts agents dial it by
 *   DIR/nodes/NAME/ca.crt              one folder per node or integrator,
 *   DIR/nodes/NAME/NAME.crt            copied as a whole to the machine
 *   DIR/nodes/NAME/NAME.key            that uses it
 *
 * Keys are EC P-256, written 0600; certificates are signed with
 * ECDSA-SHA256.  The CA is valid ORCH_CERTS_CA_DAYS days, the others
 * ORCH_CERTS_DAYS unless asked otherwise.  The manager's certificate is
 * for TLS servers only (extended key usage serverAuth) and names its hosts
 * in subjectAltName; the others are for TLS clients only (clientAuth) and
 * carry their name as the subject's CN, which is what the manager checks
 * a node's registration against.  No file is ever overwritten unless
 * force is set.
 */
#ifndef ORCH_CERTS_H
#define ORCH_CERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ORCH_CERTS_CA_DAYS 3650
#define ORCH_CERTS_DAYS 825
#define ORCH_CERTS_DAYS_MAX 3650
/* The most --host names a manager certificate carries. */
#define ORCH_CERTS_HOSTS_MAX 32

struct orch_certs_opts {
	/* The manager's host names and IP addresses (orch_certs_init);
	 * none: localhost, 127.0.0.1 and ::1. */
	const char *const *hosts;
	size_t n_hosts;
	int days;   /* 0: ORCH_CERTS_DAYS (ORCH_CERTS_CA_DAYS for the CA) */
	bool force; /* replace existing files */
	/* Tests only: an explicit validity period of the certificate
	 * issued, in seconds since the epoch (both 0: now and days). */
	int64_t not_before, not_after;
};

/*
 * Creates dir (0700, parents too) when missing and writes a new CA and the
 * manager's certificate into it.  Returns ORCH_OK; ORCH_EEXIST when one of
 * the four files exists and !o->force; ORCH_EINVAL for a bad host name
 * or validity; otherwise an error.  err always says what happened.
 */
int orch_certs_init(
    const char *dir, const struct orch_certs_opts *o, char *err, size_t errlen);

/*
 * Issues a client certificate for name (a node or an integrator) signed by
 * dir's CA, written to dir/nodes/<name>/ with a copy of ca.crt.  Returns
 * ORCH_OK; ORCH_EEXIST when the certificate or key exists and !o->force;
 * ORCH_EINVAL for a bad name; ORCH_ENOENT when dir has no CA; otherwise an
 * error.  err says what happened.
 */
int orch_certs_issue(const char *dir, const char *name,
    const struct orch_certs_opts *o, char *err, size_t errlen);

/* Whether name can be a certificate's name: 1 to 128 letters, digits,
 * '.', '_', '-' (a node name), and neither "ca" nor "manager". */
bool orch_certs_name_valid(const char *name);

/*
 * orch-manager certs SUBCOMMAND ...: argv[0] is "certs".  Prints what it
 * wrote, or why not, and returns the exit status (0, 1 failed, 2 usage).
 */
int orch_certs_main(int argc, char **argv);

#endif
