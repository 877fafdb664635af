/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The state file: the canonical JSON of the desired state, written
 * atomically (temp file, fsync, rename, fsync of the directory) so that a
 * crash at any point leaves the old file or the new one, never a mix.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sluiced.h"

int
sd_state_load(const char *path, struct sl_policy **out)
{
	struct sl_policy_errors errs;
	char aside[4096];
	int ret;

	*out = NULL;
	if (access(path, F_OK) != 0)
		return -ENOENT;
	ret = sl_policy_load_file(path, out, &errs);
	if (ret == 0)
		return 0;
	if (ret == -EINVAL && errs.count > 0) {
		char msg[512];

		sl_policy_error_format(&errs.list[0], path, msg, sizeof(msg));
		SD_ERR("state file is corrupt: %s", msg);
	} else {
		SD_ERR("state file %s cannot be read: %s", path,
		       strerror(-ret));
		if (ret != -EINVAL)
			return ret;	/* not corrupt: leave it where it is */
	}
	/* Keep it for the operator, under a name nothing writes to: link()
	 * fails rather than replace a file moved aside before. */
	int moved = -1;

	for (unsigned int n = 0; n < 1000 && moved != 0; n++) {
		if (n == 0)
			snprintf(aside, sizeof(aside), "%s.corrupt-%lld", path,
				 (long long)time(NULL));
		else
			snprintf(aside, sizeof(aside), "%s.corrupt-%lld.%u",
				 path, (long long)time(NULL), n);
		moved = link(path, aside);
		if (moved != 0 && errno != EEXIST)
			break;
	}
	if (moved == 0 && unlink(path) != 0) {
		unlink(aside);
		moved = -1;
	}
	if (moved == 0)
		SD_ERR("moved it aside to %s; start again to begin from "
		       "--config (or restore a good copy)", aside);
	else
		SD_ERR("could not move it aside (%s); left in place",
		       strerror(errno));
	return -EINVAL;
}

static int
fsync_dir_of(const char *path)
{
	char *copy = strdup(path);
	int fd, ret = 0;

	if (copy == NULL)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return ret;
}

int
sd_state_write(const char *path, const char *text)
{
	char tmp[4096];
	size_t len = strlen(text), done = 0;
	int fd, ret = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)n;
	}
	if (ret == 0 && write(fd, "\n", 1) != 1)
		ret = -errno;
	if (ret == 0 && fsync(fd) != 0)
		ret = -errno;
	if (close(fd) != 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, path) != 0)
		ret = -errno;
	if (ret != 0) {
		unlink(tmp);
		return ret;
	}
	return fsync_dir_of(path);
}
