#include "dirs.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

int
orch_dir_make(const char *dir, mode_t mode)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(path))
		return ORCH_EINVAL;
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, mode) != 0 && errno != EEXIST)
			return orch_err_from_errno(errno);
		*p = '/';
	}
	if (mkdir(path, mode) != 0 && errno != EEXIST)
		return orch_err_from_errno(errno);
	return ORCH_OK;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	if (flag == FTW_DP)
		return rmdir(path) != 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) != 0 && errno != ENOENT ? -1 : 0;
}

int
orch_dir_remove(const char *path)
{
	/* FTW_PHYS: a link is removed, never followed. */
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ||
	    errno == ENOENT)
		return ORCH_OK;
	return orch_err_from_errno(errno != 0 ? errno : EIO);
}
