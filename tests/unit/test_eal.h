/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * EAL for unit tests that need DPDK memory: no hugepages, no PCI, a runtime
 * directory of their own (two runs of the suite may overlap) that is
 * removed again on cleanup.
 */
#ifndef SLUICE_TEST_EAL_H
#define SLUICE_TEST_EAL_H

#include <ftw.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_eal.h>

static char test_eal_prefix[64];

static int
test_eal_init(const char *argv0, const char *name, const char *mem_mb)
{
	char *eal[] = { (char *)argv0, "--no-huge", "--no-pci", "-m",
			(char *)mem_mb, "--file-prefix", test_eal_prefix,
			"--no-telemetry", "--log-level", "lib.*:error", NULL };

	snprintf(test_eal_prefix, sizeof(test_eal_prefix), "%s_%d", name,
		 (int)getpid());
	if (rte_eal_init(10, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return -1;
	}
	return 0;
}

static int
test_eal_unlink(const char *path, const struct stat *sb, int flag,
		struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
test_eal_cleanup(void)
{
	char dir[128];

	rte_eal_cleanup();
	snprintf(dir, sizeof(dir), "/var/run/dpdk/%s", test_eal_prefix);
	nftw(dir, test_eal_unlink, 8, FTW_DEPTH | FTW_PHYS);
}

#endif /* SLUICE_TEST_EAL_H */
