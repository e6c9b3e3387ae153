/*
 * sdnotify.h: telling systemd how a service is doing (Type=notify).
 *
 * systemd passes the path of a datagram socket in $NOTIFY_SOCKET; the
 * service sends it lines such as "READY=1" (started: units ordered after
 * it may start), "STOPPING=1" and "STATUS=text" (shown by systemctl
 * status).  The protocol is sd_notify(3)'s, spoken here directly so that
 * orch does not need libsystemd; without $NOTIFY_SOCKET nothing is sent.
 */
#ifndef ORCH_SDNOTIFY_H
#define ORCH_SDNOTIFY_H

/*
 * Sends state (newline-separated "KEY=value" lines) to $NOTIFY_SOCKET, a
 * path or, starting with '@', an abstract socket name.  Returns ORCH_OK
 * (also when the variable is unset), ORCH_EINVAL for an unusable
 * address, or the error of the send translated.
 */
int orch_sd_notify(const char *state);

#endif
