/* SPDX-License-Identifier: BSD-3-Clause */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_policy_fixture.h"

/* This file is tests/unit/test_policy_fixture.c: the root is three up. */
static const char *
source_root(void)
{
	static char root[PATH_MAX + 8];
	char here[2 * PATH_MAX + 2];
	const char *env = getenv("SLUICE_SOURCE_ROOT");

	if (env != NULL && *env != '\0')
		return env;
	if (root[0] != '\0')
		return root;
	snprintf(here, sizeof(here), "%s", __FILE__);
	if (here[0] != '/') {
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

		if (n > 0) {
			char rel[sizeof(here)];

			exe[n] = '\0';
			snprintf(rel, sizeof(rel), "%s", here);
			snprintf(here, sizeof(here), "%.4000s/%.4000s", dirname(exe),
				 rel);
		}
	}
	snprintf(root, sizeof(root), "%s/../..", dirname(here));
	return root;
}

const char *
policy_source_path(const char *rel)
{
	static char path[2 * PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", source_root(), rel);
	return path;
}

const char *
policy_fixture_path(const char *name)
{
	static char path[2 * PATH_MAX];

	snprintf(path, sizeof(path), "%s/tests/unit/fixtures/policy/%s",
		 source_root(), name);
	return path;
}

char *
policy_fixture_read(const char *name, size_t *len)
{
	const char *path = name[0] == '/' ? name : policy_fixture_path(name);
	FILE *f = fopen(path, "rb");
	char *buf;
	long size;

	if (f == NULL) {
		fprintf(stderr, "cannot open fixture %s\n", path);
		abort();
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)size + 1);
	if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "cannot read fixture %s\n", path);
		abort();
	}
	fclose(f);
	buf[size] = '\0';
	if (len != NULL)
		*len = (size_t)size;
	return buf;
}
