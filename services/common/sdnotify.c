#include "sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "error.h"

int
orch_sd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t n;
	socklen_t alen;
	int fd, rc = ORCH_OK;

	if (path == NULL || path[0] == '\0')
		return ORCH_OK;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(a.sun_path))
		return ORCH_EINVAL;
	memcpy(a.sun_path, path, n);
	/* An abstract name: '@' stands for the leading NUL, and the length
	 * says where it ends. */
	if (path[0] == '@')
		a.sun_path[0] = '\0';
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	    (path[0] == '/' ? 1 : 0));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return orch_err_from_errno(errno);
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	        (const struct sockaddr *)&a, alen) < 0)
		rc = orch_err_from_errno(errno);
	close(fd);
	return rc;
}
