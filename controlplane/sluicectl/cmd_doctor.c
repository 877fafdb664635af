/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluicectl doctor: a pre-flight check of this host for Sluice.  Each check
 * reads /proc, /sys, ethtool's answers or an HTTP endpoint, and reports
 * ok, warn, fail (or skip where it does not apply) with what it found and,
 * when not ok, the fix.  Read-only: it never changes the host (ethtool is
 * only asked -i/-k/-x, nothing is mounted, loaded or written).
 *
 * What to check against comes from the flags, else from the service
 * options file (/etc/sluice/sluice.env: -a and -l of SLUICE_EAL_ARGS,
 * --etcd of SLUICED_OPTS), else from the host itself (every PCI network
 * interface is a candidate for XDP).
 *
 * Exit: 0 ready (no fail), 1 not ready (a fail), 2 usage.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "ctl.h"

#define DOCTOR_ENV_DEFAULT	"/etc/sluice/sluice.env"
#define MAX_CPUS		1024
#define MAX_DEVS		32

const struct ctl_flag ctl_doctor_flags[] = {
	{"nic", 0, CTL_FLAG_TEXT, NULL, "LIST",
	 "the dataplane's NICs: PCI addresses or interface names, comma "
	 "separated (default: -a of SLUICE_EAL_ARGS in --env)"},
	{"lcores", 0, CTL_FLAG_TEXT, NULL, "LIST",
	 "the dataplane's lcores, as EAL -l: 0-3,8 (the first one is the "
	 "main lcore, the others workers; default: -l in --env)"},
	{"xdp", 0, CTL_FLAG_TEXT, NULL, "LIST",
	 "interfaces the XDP datapath is to run on, comma separated"},
	{"etcd", 0, CTL_FLAG_TEXT, NULL, "URLS",
	 "etcd endpoints, comma separated (default: --etcd in --env)"},
	{"env", 0, CTL_FLAG_TEXT, NULL, "FILE",
	 "the services' options file (default " DOCTOR_ENV_DEFAULT
	 " when it exists; '' for none)"},
	{NULL},
};

enum level { LV_OK, LV_SKIP, LV_WARN, LV_FAIL };
static const char *const level_name[] = {"ok", "skip", "warn", "fail"};

/* A NIC or interface to check. */
struct dev {
	char name[64];		/* as given */
	char pci[32];		/* 0000:01:00.0, or "" */
	char ifname[32];	/* kernel interface, or "" (bound to vfio) */
	char driver[64];	/* "" when none */
	int numa;		/* -1 unknown */
	bool dpdk;		/* a dataplane port (else an XDP candidate) */
};

struct doctor {
	json_t *checks;
	int counts[4];
	bool json;
	/* what to check against */
	struct dev devs[MAX_DEVS];
	int n_devs;
	bool xdp_given;		/* --xdp named the XDP interfaces */
	bool lcores_known;
	unsigned char lcore[MAX_CPUS];	/* 1: an lcore of the dataplane */
	int main_lcore;
	int n_workers;
	char *etcd;		/* comma separated, or NULL */
	const char *env_path;	/* the file read, or NULL */
	bool needs_pci;		/* some dataplane port is a PCI NIC */
};

/* ------------------------------------------------------------------------
 * Reporting
 */

static void __attribute__((format(printf, 5, 6)))
report(struct doctor *d, enum level lv, const char *check, const char *fix,
       const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	json_t *c;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	d->counts[lv]++;
	c = json_pack("{s:s, s:s, s:s}", "check", check, "status",
		      level_name[lv], "message", msg);
	if (fix != NULL && lv >= LV_WARN)
		json_object_set_new(c, "fix", json_string(fix));
	json_array_append_new(d->checks, c);
	if (!d->json) {
		printf("%-5s %-18s %s", level_name[lv], check, msg);
		if (fix != NULL && lv >= LV_WARN)
			printf("; fix: %s", fix);
		printf("\n");
	}
}

/* ------------------------------------------------------------------------
 * Reading the host
 */

/* The first line of a file, without its newline, into buf; false when it
 * cannot be read. */
static bool
read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (f == NULL)
		return false;
	ok = fgets(buf, (int)size, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

static long
read_long(const char *path, long dflt)
{
	char buf[64], *end;
	long v;

	if (!read_line(path, buf, sizeof(buf)))
		return dflt;
	v = strtol(buf, &end, 10);
	return end == buf ? dflt : v;
}

/* Entries of a directory (not . and ..) whose name starts with prefix;
 * -1 when it cannot be opened. */
static int
count_entries(const char *path, const char *prefix)
{
	DIR *dir = opendir(path);
	struct dirent *e;
	int n = 0;

	if (dir == NULL)
		return -1;
	while ((e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.' &&
		    strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(dir);
	return n;
}

static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* The basename of the target of a symbolic link, into buf. */
static bool
link_base(const char *path, char *buf, size_t size)
{
	char target[512];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	const char *slash;

	if (n < 0)
		return false;
	target[n] = '\0';
	slash = strrchr(target, '/');
	snprintf(buf, size, "%.*s", (int)size - 1, slash ? slash + 1 : target);
	return true;
}

/* The mount point of the first file system of type fstype in /proc/mounts
 * (at mnt when mnt is not NULL), into buf. */
static bool
find_mount(const char *fstype, const char *mnt, char *buf, size_t size)
{
	char dev[256], dir[512], type[64];
	FILE *f = fopen("/proc/mounts", "r");
	bool found = false;

	if (f == NULL)
		return false;
	while (fscanf(f, "%255s %511s %63s %*[^\n]", dev, dir, type) == 3) {
		if (strcmp(type, fstype) == 0 &&
		    (mnt == NULL || strcmp(dir, mnt) == 0)) {
			snprintf(buf, size, "%s", dir);
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

/* A value of /proc/meminfo ("HugePages_Total"), -1 when absent. */
static long
meminfo(const char *key)
{
	char line[256];
	size_t len = strlen(key);
	FILE *f = fopen("/proc/meminfo", "r");
	long v = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, len) == 0 && line[len] == ':') {
			v = strtol(line + len + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* Interface names go into ethtool command lines: only these bytes. */
static bool
safe_ifname(const char *s)
{
	if (*s == '\0' || strlen(s) > 15)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-:@", *s))
			return false;
	return true;
}

/* ethtool OPTION IF's output (stderr dropped); NULL when it fails or is
 * not installed.  free() the result. */
static char *
ethtool(const char *option, const char *ifname)
{
	char cmd[128], *out = NULL;
	size_t len = 0, cap = 0;
	char chunk[1024];
	size_t n;
	FILE *p;
	int st;

	if (!safe_ifname(ifname))
		return NULL;
	snprintf(cmd, sizeof(cmd), "ethtool %s '%s' 2>/dev/null", option,
		 ifname);
	p = popen(cmd, "r");
	if (p == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0) {
		if (len + n + 1 > cap) {
			char *b;

			cap = (len + n + 1) * 2;
			b = realloc(out, cap);
			if (b == NULL)
				break;
			out = b;
		}
		memcpy(out + len, chunk, n);
		len += n;
		out[len] = '\0';
	}
	st = pclose(p);
	if (st != 0 || out == NULL) {
		free(out);
		return NULL;
	}
	return out;
}

/* "on" or "off" of a feature line "name: on" in ethtool -k output; NULL
 * when absent. */
static const char *
feature(const char *text, const char *name, bool *fixed)
{
	char key[80];
	const char *p;

	snprintf(key, sizeof(key), "\n%s: ", name);
	p = strstr(text, key);
	if (p == NULL)
		return NULL;
	p += strlen(key);
	*fixed = strncmp(p, "on [fixed]", 10) == 0 ||
		 strncmp(p, "off [fixed]", 11) == 0;
	return strncmp(p, "on", 2) == 0 ? "on" : "off";
}

/* Parse an EAL core list ("0-3,8") into d->lcore. */
static int
parse_lcores(struct doctor *d, const char *list)
{
	const char *p = list;
	bool first = true;

	memset(d->lcore, 0, sizeof(d->lcore));
	d->n_workers = 0;
	while (*p) {
		char *end;
		long a = strtol(p, &end, 10), b;

		if (end == p || a < 0 || a >= MAX_CPUS)
			return -1;
		b = a;
		p = end;
		if (*p == '-') {
			b = strtol(p + 1, &end, 10);
			if (end == p + 1 || b < a || b >= MAX_CPUS)
				return -1;
			p = end;
		}
		for (long c = a; c <= b; c++) {
			if (first)
				d->main_lcore = (int)c;
			else if (!d->lcore[c])
				d->n_workers++;
			first = false;
			d->lcore[c] = 1;
		}
		if (*p == ',')
			p++;
		else if (*p != '\0')
			return -1;
	}
	d->lcores_known = !first;
	return first ? -1 : 0;
}

/* The kernel interface of a PCI function (virtio-net puts it one level
 * down, under virtioN/net/), into buf; "" when it has none (vfio-pci). */
static void
pci_ifname(const char *pci, char *buf, size_t size)
{
	char path[512];
	DIR *dir;
	struct dirent *e;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/net", pci);
	dir = opendir(path);
	if (dir == NULL) {
		DIR *top;

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", pci);
		top = opendir(path);
		while (top != NULL && dir == NULL && (e = readdir(top)) != NULL)
			if (strncmp(e->d_name, "virtio", 6) == 0) {
				snprintf(path, sizeof(path),
					 "/sys/bus/pci/devices/%s/%.32s/net",
					 pci, e->d_name);
				dir = opendir(path);
			}
		if (top != NULL)
			closedir(top);
	}
	while (dir != NULL && (e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.' && safe_ifname(e->d_name)) {
			snprintf(buf, size, "%.*s", (int)size - 1, e->d_name);
			break;
		}
	if (dir != NULL)
		closedir(dir);
}

/* Fill a struct dev from a PCI address or an interface name. */
static int
resolve_dev(const char *name, bool dpdk, struct dev *v)
{
	char path[512];

	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->dpdk = dpdk;
	v->numa = -1;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", name);
	if (strchr(name, ':') != NULL) {
		/* 01:00.0 is 0000:01:00.0 */
		if (strlen(name) == 7)
			snprintf(v->pci, sizeof(v->pci), "0000:%s", name);
		else
			snprintf(v->pci, sizeof(v->pci), "%s", name);
	} else {
		char real[512];

		snprintf(path, sizeof(path), "/sys/class/net/%s", name);
		if (!exists(path))
			return -ENODEV;
		snprintf(v->ifname, sizeof(v->ifname), "%s", name);
		snprintf(path, sizeof(path), "/sys/class/net/%s/device/driver",
			 name);
		link_base(path, v->driver, sizeof(v->driver));
		snprintf(path, sizeof(path), "/sys/class/net/%s/device", name);
		if (realpath(path, real) != NULL) {
			/* virtio-net: the PCI function is the parent. */
			for (int up = 0; up < 2 && !v->pci[0]; up++) {
				char *base = strrchr(real, '/');
				char probe[600];

				if (base == NULL)
					break;
				snprintf(probe, sizeof(probe),
					 "/sys/bus/pci/devices/%s", base + 1);
				if (exists(probe))
					snprintf(v->pci, sizeof(v->pci), "%s",
						 base + 1);
				*base = '\0';
			}
		}
	}
	if (v->pci[0]) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", v->pci);
		if (!exists(path))
			return -ENOENT;
		snprintf(path, sizeof(path),
			 "/sys/bus/pci/devices/%s/numa_node", v->pci);
		v->numa = (int)read_long(path, -1);
		if (!v->driver[0]) {
			snprintf(path, sizeof(path),
				 "/sys/bus/pci/devices/%s/driver", v->pci);
			link_base(path, v->driver, sizeof(v->driver));
		}
		if (!v->ifname[0])
			pci_ifname(v->pci, v->ifname, sizeof(v->ifname));
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * The options file
 */

/* The value of KEY= in a systemd environment file (quotes removed);
 * NULL when absent.  free() it. */
static char *
env_value(const char *path, const char *key)
{
	char line[4096], *val = NULL;
	size_t klen = strlen(key);
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return NULL;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *e;

		while (isspace((unsigned char)*p))
			p++;
		if (strncmp(p, key, klen) != 0 || p[klen] != '=')
			continue;
		p += klen + 1;
		p[strcspn(p, "\n")] = '\0';
		if (*p == '"' || *p == '\'') {
			e = strrchr(p + 1, *p);
			if (e != NULL)
				*e = '\0';
			p++;
		}
		free(val);
		val = strdup(p);
	}
	fclose(f);
	return val;
}

/* The word after `flag` in a space-separated line ("-l 0-3" or
 * "--etcd=URL"), into a new string; NULL when absent.  With all, every
 * occurrence joined by commas. */
static char *
word_after(const char *line, const char *flag, bool all)
{
	char *copy = strdup(line), *save = NULL, *w, *out = NULL;
	size_t flen = strlen(flag);
	bool next = false;

	if (copy == NULL)
		return NULL;
	for (w = strtok_r(copy, " \t", &save); w != NULL;
	     w = strtok_r(NULL, " \t", &save)) {
		const char *val = NULL;

		if (next)
			val = w;
		else if (strncmp(w, flag, flen) == 0 && w[flen] == '=')
			val = w + flen + 1;
		next = strcmp(w, flag) == 0;
		if (val == NULL)
			continue;
		if (out == NULL) {
			out = strdup(val);
		} else {
			char *j;

			if (asprintf(&j, "%s,%s", out, val) < 0)
				j = NULL;
			free(out);
			out = j;
		}
		if (!all)
			break;
	}
	free(copy);
	return out;
}

/* ------------------------------------------------------------------------
 * The checks
 */

static void
check_hugepages(struct doctor *d)
{
	long total = meminfo("HugePages_Total");
	long free_p = meminfo("HugePages_Free");
	long size_kb = meminfo("Hugepagesize");
	char mnt[512];
	bool mounted = find_mount("hugetlbfs", NULL, mnt, sizeof(mnt));

	if (total <= 0) {
		report(d, LV_FAIL, "hugepages",
		       "deploy/hugepages.sh 1024 (2 GiB now), or hugepages=1024 "
		       "on the kernel command line (at boot, unfragmented)",
		       "no hugepages reserved (HugePages_Total 0 in "
		       "/proc/meminfo): DPDK needs them (or runs with "
		       "--no-huge, slower)");
	} else if (!mounted) {
		report(d, LV_FAIL, "hugepages",
		       "mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages "
		       "(deploy/hugepages.sh does it; /etc/fstab keeps it)",
		       "%ld pages of %ld kB reserved but no hugetlbfs mounted: "
		       "EAL cannot map them", total, size_kb);
	} else if (free_p == 0) {
		report(d, LV_WARN, "hugepages",
		       "stop what holds them (another DPDK process: "
		       "ls /dev/hugepages), or reserve more: deploy/hugepages.sh N",
		       "%ld pages of %ld kB reserved, none free; hugetlbfs at %s",
		       total, size_kb, mnt);
	} else {
		report(d, LV_OK, "hugepages", NULL,
		       "%ld pages of %ld kB reserved (%ld MB), %ld free; "
		       "hugetlbfs mounted at %s", total, size_kb,
		       total * size_kb / 1024, free_p, mnt);
	}
}

static bool
noiommu_mode(void)
{
	char buf[8];

	return read_line("/sys/module/vfio/parameters/"
			 "enable_unsafe_noiommu_mode", buf, sizeof(buf)) &&
	       buf[0] == 'Y';
}

static void
check_iommu(struct doctor *d)
{
	int groups = count_entries("/sys/kernel/iommu_groups", "");
	/* Without a PCI port to drive, no IOMMU is only a limit. */
	enum level missing = d->needs_pci ? LV_FAIL : LV_WARN;
	const char *fix = "add intel_iommu=on iommu=pt (Intel) or iommu=pt "
			  "(AMD) to the kernel command line and reboot; in a VM "
			  "give it a vIOMMU, or use vfio's no-IOMMU mode "
			  "(docs/virtio.md)";

	if (groups > 0)
		report(d, LV_OK, "iommu", NULL, "%d IOMMU groups", groups);
	else if (noiommu_mode())
		report(d, LV_WARN, "iommu", "acceptable in a test VM; on bare "
		       "metal turn the IOMMU on instead", "no IOMMU, but vfio's "
		       "no-IOMMU mode is on: vfio-pci works without DMA "
		       "isolation");
	else
		report(d, missing, "iommu", fix, "no IOMMU (%s): vfio-pci "
		       "cannot drive a NIC%s",
		       groups < 0 ? "/sys/kernel/iommu_groups is missing" :
		       "/sys/kernel/iommu_groups is empty",
		       d->needs_pci ? "" : "; only virtual ports (af_packet, "
		       "af_xdp, virtio-user, pcap) can be used");
}

static void
check_vfio(struct doctor *d)
{
	enum level missing = d->needs_pci ? LV_FAIL : LV_WARN;
	char path[512], buf[256];
	bool in_kernel = false;

	if (exists("/sys/bus/pci/drivers/vfio-pci")) {
		report(d, LV_OK, "vfio", NULL, "vfio-pci loaded%s",
		       exists("/dev/vfio/vfio") ? ", /dev/vfio/vfio present" :
		       "");
		return;
	}
	/* Is there a module to load? */
	if (read_line("/proc/sys/kernel/osrelease", buf, sizeof(buf))) {
		FILE *f;

		snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep",
			 buf);
		f = fopen(path, "r");
		if (f != NULL) {
			char line[1024];

			while (!in_kernel && fgets(line, sizeof(line), f))
				in_kernel = strstr(line, "/vfio-pci.ko") !=
					    NULL;
			fclose(f);
		}
	}
	if (in_kernel)
		report(d, missing, "vfio", "modprobe vfio-pci (the "
		       "sluice-hugepages service loads it at boot)",
		       "vfio-pci is not loaded (the module exists)");
	else
		report(d, missing, "vfio", "install a kernel with "
		       "CONFIG_VFIO_PCI (Debian's linux-image packages have it)",
		       "vfio-pci is neither loaded nor available as a module "
		       "of this kernel: NICs cannot be given to DPDK");
}

static void
check_numa(struct doctor *d)
{
	int nodes = count_entries("/sys/devices/system/node", "node");
	char path[256], list[512];
	int lcore_node[MAX_CPUS];
	bool any = false;

	if (nodes <= 1) {
		report(d, LV_OK, "numa", NULL, "%s: NICs and lcores cannot be "
		       "on different nodes", nodes == 1 ? "one NUMA node" :
		       "no NUMA information");
		return;
	}
	for (int c = 0; c < MAX_CPUS; c++) {
		lcore_node[c] = -1;
		for (int n = 0; n < 64; n++) {
			snprintf(path, sizeof(path),
				 "/sys/devices/system/cpu/cpu%d/node%d", c, n);
			if (exists(path)) {
				lcore_node[c] = n;
				break;
			}
		}
	}
	for (int i = 0; i < d->n_devs; i++) {
		struct dev *v = &d->devs[i];
		int far = 0;

		if (!v->pci[0] || v->numa < 0)
			continue;
		any = true;
		list[0] = '\0';
		for (int c = 0; d->lcores_known && c < MAX_CPUS; c++) {
			if (!d->lcore[c] || c == d->main_lcore ||
			    lcore_node[c] == v->numa)
				continue;
			far++;
			snprintf(list + strlen(list), sizeof(list) - strlen(list),
				 "%s%d", far > 1 ? "," : "", c);
		}
		if (far > 0) {
			snprintf(path, sizeof(path), "pick workers of node %d "
				 "(lscpu -e) in -l", v->numa);
			report(d, LV_WARN, "numa", path, "%s (%s) is on node %d "
			       "but workers %s are not: every packet crosses "
			       "the interconnect", v->name, v->pci, v->numa,
			       list);
		} else {
			report(d, LV_OK, "numa", NULL, "%s (%s) on node %d%s",
			       v->name, v->pci, v->numa, d->lcores_known ?
			       ", with every worker" : "");
		}
	}
	if (!any)
		report(d, LV_OK, "numa", NULL, "%d NUMA nodes; no PCI NIC to "
		       "place", nodes);
}

/* The value of name= on the kernel command line, into buf. */
static bool
cmdline_param(const char *cmdline, const char *name, char *buf, size_t size)
{
	size_t len = strlen(name);

	for (const char *p = cmdline; (p = strstr(p, name)) != NULL; p += len) {
		if ((p == cmdline || p[-1] == ' ') && p[len] == '=') {
			size_t n = strcspn(p + len + 1, " \n");

			snprintf(buf, size, "%.*s", (int)n, p + len + 1);
			return true;
		}
	}
	return false;
}

static void
check_isolation(struct doctor *d)
{
	char cmdline[4096] = "", iso[256] = "", nohz[256] = "", text[600];
	struct doctor tmp;
	int outside = 0;
	FILE *f = fopen("/proc/cmdline", "r");

	if (f != NULL) {
		if (fgets(cmdline, sizeof(cmdline), f) == NULL)
			cmdline[0] = '\0';
		fclose(f);
	}
	cmdline_param(cmdline, "isolcpus", iso, sizeof(iso));
	cmdline_param(cmdline, "nohz_full", nohz, sizeof(nohz));
	if (!iso[0] && !nohz[0]) {
		report(d, LV_WARN, "isolated-cores",
		       "isolcpus=W nohz_full=W rcu_nocbs=W on the kernel "
		       "command line, W the worker lcores (for example 2-3)",
		       "no isolcpus= or nohz_full= in /proc/cmdline: the "
		       "workers share their cores with the kernel and other "
		       "tasks (latency spikes, lower throughput)");
		return;
	}
	/* isolcpus may carry flags: "domain,managed_irq,2-3" */
	const char *cpus = iso[0] ? iso : nohz;
	const char *digits = cpus;

	while (*digits && !isdigit((unsigned char)*digits))
		digits = strchr(digits, ',') ? strchr(digits, ',') + 1 : "";
	if (parse_lcores(&tmp, digits) < 0) {
		report(d, LV_WARN, "isolated-cores", NULL,
		       "cannot read the core list \"%s\"", cpus);
		return;
	}
	text[0] = '\0';
	for (int c = 0; d->lcores_known && c < MAX_CPUS; c++)
		if (d->lcore[c] && c != d->main_lcore && !tmp.lcore[c]) {
			outside++;
			snprintf(text + strlen(text), sizeof(text) - strlen(text),
				 "%s%d", outside > 1 ? "," : "", c);
		}
	if (outside > 0)
		report(d, LV_WARN, "isolated-cores", "run the workers on the "
		       "isolated cores (-l), or isolate theirs",
		       "isolated: %s; workers %s are not", cpus, text);
	else
		report(d, LV_OK, "isolated-cores", NULL, "isolcpus=%s "
		       "nohz_full=%s%s", iso[0] ? iso : "-", nohz[0] ? nohz :
		       "-", d->lcores_known ? "; every worker isolated" : "");
}

/* Kernel drivers with native (driver) XDP support. */
static const char *const xdp_native_drivers[] = {
	"ixgbe", "ixgbevf", "i40e", "ice", "igb", "igc", "mlx4_en",
	"mlx4_core", "mlx5_core", "bnxt_en", "nfp", "qede", "virtio_net",
	"veth", "tun", "ena", "nicvf", "sfc", "efx", "netsec", "stmmaceth",
	"fsl_dpaa2_eth", "fsl_enetc", "hv_netvsc", "vif", "mvneta", "mvpp2",
	"gve", "atlantic", "ionic", "mana", "rvu_nicpf", "tsnep", "fec",
	"lan966x-switch", "bonding", "cpsw", "am65-cpsw-nuss", "iavf",
	NULL,
};

static bool
xdp_native(const char *driver)
{
	for (int i = 0; xdp_native_drivers[i]; i++)
		if (strcmp(driver, xdp_native_drivers[i]) == 0)
			return true;
	return false;
}

static void
check_nic(struct doctor *d, struct dev *v)
{
	char check[96], fix[256];

	snprintf(check, sizeof(check), "nic %s", v->name);
	if (v->dpdk) {
		if (strcmp(v->driver, "vfio-pci") == 0) {
			report(d, LV_OK, check, NULL, "%s bound to vfio-pci: "
			       "ready for DPDK", v->pci);
		} else if (!strcmp(v->driver, "mlx5_core") ||
			   !strcmp(v->driver, "mlx4_core")) {
			report(d, LV_OK, check, NULL, "%s on %s: NVIDIA's PMD "
			       "works beside the kernel driver (no rebinding)",
			       v->pci, v->driver);
		} else if (!v->driver[0]) {
			snprintf(fix, sizeof(fix), "deploy/nic-bind.sh bind %s",
				 v->pci);
			report(d, LV_FAIL, check, fix, "%s has no driver",
			       v->pci);
		} else {
			snprintf(fix, sizeof(fix), "deploy/nic-bind.sh bind %s "
				 "(--persist to keep it across reboots)",
				 v->ifname[0] ? v->ifname : v->pci);
			report(d, LV_FAIL, check, fix, "%s%s%s is on the kernel "
			       "driver %s: DPDK cannot drive it until it is "
			       "bound to vfio-pci", v->pci, v->ifname[0] ?
			       " = " : "", v->ifname, v->driver);
		}
		return;
	}
	if (!v->driver[0]) {
		report(d, LV_WARN, check, NULL, "no driver information for %s",
		       v->name);
	} else if (xdp_native(v->driver)) {
		report(d, LV_OK, check, NULL, "driver %s%s%s: XDP native mode "
		       "supported", v->driver, v->pci[0] ? ", PCI " : "",
		       v->pci);
	} else {
		report(d, LV_WARN, check, "use a NIC whose driver has XDP "
		       "(ixgbe, i40e, ice, mlx5_core, bnxt_en, virtio_net...), "
		       "or the DPDK dataplane", "driver %s has no native XDP: "
		       "only generic (skb) mode, several times slower",
		       v->driver);
	}
}

/* RSS of a kernel interface: RX queues against the workers, and whether
 * the key is symmetric (the same 16 bits over and over, so that both
 * directions of a flow hash alike with Toeplitz). */
static void
check_rss(struct doctor *d, struct dev *v)
{
	char check[96], path[256], fix[512];
	int queues, workers = d->n_workers;
	char *x;

	snprintf(check, sizeof(check), "rss %s", v->ifname);
	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", v->ifname);
	queues = count_entries(path, "rx-");
	if (!d->lcores_known) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		workers = cpus > 1 ? (int)cpus - 1 : 1;
	}
	if (queues >= 0 && queues < workers) {
		snprintf(fix, sizeof(fix), "ethtool -L %s combined %d (if the "
			 "NIC has them; ethtool -l %s shows the maximum)",
			 v->ifname, workers, v->ifname);
		report(d, LV_WARN, check, fix, "%d RX queue%s for %d "
		       "worker%s%s: some workers get no traffic", queues,
		       queues == 1 ? "" : "s", workers, workers == 1 ? "" : "s",
		       d->lcores_known ? "" : " (all CPUs but one; give "
		       "--lcores)");
	} else if (queues >= 0) {
		report(d, LV_OK, check, NULL, "%d RX queues for %d workers",
		       queues, workers);
	}

	snprintf(check, sizeof(check), "rss-key %s", v->ifname);
	x = ethtool("-x", v->ifname);
	const char *key = x ? strstr(x, "RSS hash key:\n") : NULL;

	if (key == NULL || strncmp(key + 14, "Operation not supported", 23)
	    == 0) {
		report(d, LV_WARN, check, "none needed for forwarding: the "
		       "flow hash that picks replication targets is symmetric "
		       "in software; for per-CPU state use a NIC that takes a "
		       "key (ethtool -X)", "the driver does not report its RSS "
		       "key (ethtool -x %s): whether both directions of a flow "
		       "reach the same CPU is unknown", v->ifname);
	} else {
		unsigned int b[128];
		int n = 0;
		bool sym = true;
		const char *p = key + 14;

		while (n < 128 && sscanf(p, "%2x", &b[n]) == 1) {
			n++;
			p += 2;
			if (*p != ':')
				break;
			p++;
		}
		for (int i = 2; i < n; i++)
			if (b[i] != b[i % 2])
				sym = false;
		if (n >= 4 && sym)
			report(d, LV_OK, check, NULL, "symmetric RSS key "
			       "(%02x:%02x repeated, %d bytes)", b[0], b[1], n);
		else {
			snprintf(fix, sizeof(fix), "ethtool -X %s hkey "
				 "6d:5a:6d:5a:... (%d bytes of 6d:5a)",
				 v->ifname, n);
			report(d, LV_WARN, check, fix, "the RSS key is not "
			       "symmetric: the two directions of a flow may "
			       "land on different CPUs");
		}
	}
	free(x);
}

/* Offloads that XDP refuses or that change what it sees. */
static void
check_offloads(struct doctor *d, struct dev *v)
{
	char check[96], fix[256];
	char *k = ethtool("-k", v->ifname);
	const char *lro, *gro;
	bool lro_fixed = false, gro_fixed = false;
	/* An interface named by --xdp must be right; others only might be. */
	enum level bad = d->xdp_given ? LV_FAIL : LV_WARN;

	snprintf(check, sizeof(check), "offloads %s", v->ifname);
	if (k == NULL) {
		report(d, LV_WARN, check, "apt-get install ethtool",
		       "ethtool -k %s did not answer", v->ifname);
		return;
	}
	lro = feature(k, "large-receive-offload", &lro_fixed);
	gro = feature(k, "generic-receive-offload", &gro_fixed);
	if (lro && !strcmp(lro, "on")) {
		snprintf(fix, sizeof(fix), "ethtool -K %s lro off", v->ifname);
		report(d, bad, check, lro_fixed ? "the driver fixes it on: "
		       "use another NIC for XDP" : fix, "LRO is on: XDP "
		       "cannot attach (it needs single frames)");
	} else if (gro && !strcmp(gro, "on")) {
		snprintf(fix, sizeof(fix), "ethtool -K %s gro off%s",
			 v->ifname, strcmp(v->driver, "virtio_net") == 0 ?
			 " (virtio_net: also guest offloads, ethtool -K IF "
			 "rx-gro-hw off)" : "");
		report(d, LV_WARN, check, fix, "GRO is on (LRO %s): with XDP "
		       "the XDP program sees single frames but packets passed "
		       "to the kernel are merged; off keeps both paths alike",
		       lro ? lro : "unknown");
	} else {
		report(d, LV_OK, check, NULL, "LRO %s, GRO %s", lro ? lro : "?",
		       gro ? gro : "?");
	}
	free(k);
}

static void
check_bpffs(struct doctor *d)
{
	char mnt[512];
	enum level missing = d->xdp_given ? LV_FAIL : LV_WARN;

	if (!find_mount("bpf", "/sys/fs/bpf", mnt, sizeof(mnt)))
		report(d, missing, "bpffs", "deploy/bpffs.sh (and `bpffs "
		       "/sys/fs/bpf bpf defaults 0 0` in /etc/fstab)",
		       "no BPF file system at /sys/fs/bpf: the XDP maps cannot "
		       "be pinned (forwarding would not survive a restart of "
		       "sluiced)");
	else if (!exists("/sys/fs/bpf/sluice"))
		report(d, LV_OK, "bpffs", NULL, "mounted at /sys/fs/bpf; "
		       "/sys/fs/bpf/sluice not there yet (created on the first "
		       "XDP load, or by deploy/bpffs.sh)");
	else
		report(d, LV_OK, "bpffs", NULL, "mounted at /sys/fs/bpf, "
		       "/sys/fs/bpf/sluice present");
}

/* sluiced's /v1/status, with what ctl_request() would have printed on
 * stderr kept as the explanation. */
static void
check_sluiced(struct doctor *d, struct ctl *ctl)
{
	struct ctl_reply reply;
	FILE *err = tmpfile();
	int saved = -1, rc;
	char why[512] = "";

	fflush(stderr);
	if (err != NULL) {
		saved = dup(STDERR_FILENO);
		dup2(fileno(err), STDERR_FILENO);
	}
	rc = ctl_request(ctl, "GET", "/v1/status", NULL, NULL, 0,
			 ctl->timeout_ms < 5000 ? ctl->timeout_ms : 5000,
			 &reply);
	fflush(stderr);
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
	if (err != NULL) {
		size_t n;

		rewind(err);
		n = fread(why, 1, sizeof(why) - 1, err);
		why[n] = '\0';
		why[strcspn(why, "\n")] = '\0';
		fclose(err);
	}
	if (rc != CTL_EXIT_OK) {
		const char *w = strncmp(why, "error: ", 7) ? why : why + 7;

		report(d, LV_WARN, "sluiced", "systemctl start sluiced "
		       "(journalctl -u sluiced says why it is not running), or "
		       "--socket/--url", "%s", *w ? w : "not reachable");
		return;
	}
	const json_t *dp = json_object_get(reply.json, "dataplane");
	const json_t *cl = json_object_get(reply.json, "cluster");
	bool conn = json_is_true(json_object_get(dp, "connected"));
	bool sync = json_is_true(json_object_get(dp, "in_sync"));
	bool degraded = json_is_true(json_object_get(cl, "degraded"));

	if (!conn || !sync || degraded)
		report(d, LV_WARN, "sluiced", !conn ? "systemctl start "
		       "sluice-dataplane (journalctl -u sluice-dataplane)" :
		       degraded ? "check the etcd endpoints (below)" :
		       "sluicectl status shows the dataplane's last error",
		       "sluiced %s answers, generation %lld; dataplane %s%s",
		       ctl_json_str(reply.json, "version", "?"),
		       ctl_json_int(reply.json, "generation", -1),
		       conn ? (sync ? "in sync" : "NOT in sync") :
		       "not connected", degraded ? "; cluster DEGRADED" : "");
	else
		report(d, LV_OK, "sluiced", NULL, "sluiced %s answers, "
		       "generation %lld; dataplane connected and in sync",
		       ctl_json_str(reply.json, "version", "?"),
		       ctl_json_int(reply.json, "generation", -1));
	ctl_reply_free(&reply);
}

static size_t
sink(char *ptr, size_t size, size_t n, void *user)
{
	char *buf = user;
	size_t have = strlen(buf), room = 255 - have;
	size_t len = size * n < room ? size * n : room;

	memcpy(buf + have, ptr, len);
	buf[have + len] = '\0';
	return size * n;
}

static void
check_etcd(struct doctor *d)
{
	char *list, *save = NULL, *url;

	if (d->etcd == NULL) {
		report(d, LV_SKIP, "etcd", NULL, "not clustered (no --etcd%s)",
		       d->env_path ? " here or in the options file" : "");
		return;
	}
	list = strdup(d->etcd);
	for (url = strtok_r(list, ",", &save); url != NULL;
	     url = strtok_r(NULL, ",", &save)) {
		char full[600], body[256] = "", errbuf[CURL_ERROR_SIZE] = "";
		char check[160];
		CURL *c = curl_easy_init();
		CURLcode rc;
		long status = 0;

		snprintf(check, sizeof(check), "etcd %s", url);
		snprintf(full, sizeof(full), "%.*s/health",
			 (int)strcspn(url, " ") - (url[strlen(url) - 1] == '/'),
			 url);
		if (c == NULL)
			break;
		curl_easy_setopt(c, CURLOPT_URL, full);
		curl_easy_setopt(c, CURLOPT_PROXY, "");
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, (void *)body);
		rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_cleanup(c);
		if (rc != CURLE_OK)
			report(d, LV_FAIL, check, "start etcd there, or fix the "
			       "address and the firewall between (port 2379)",
			       "not reachable: %s", *errbuf ? errbuf :
			       curl_easy_strerror(rc));
		else if (status == 200 && strstr(body, "\"true\"") != NULL)
			report(d, LV_OK, check, NULL, "healthy (GET /health)");
		else
			report(d, LV_FAIL, check, "etcdctl endpoint health; "
			       "the etcd journal says why", "answers %ld but "
			       "not healthy: %.120s", status, body);
	}
	free(list);
}

/* ------------------------------------------------------------------------
 * The command
 */

/* Add each name of a comma-separated list as a device. */
static int
add_devs(struct ctl *ctl, struct doctor *d, const char *list, bool dpdk)
{
	char *copy = strdup(list), *save = NULL, *w;
	int rc = CTL_EXIT_OK;

	for (w = strtok_r(copy, ",", &save); w != NULL;
	     w = strtok_r(NULL, ",", &save)) {
		if (d->n_devs == MAX_DEVS) {
			rc = ctl_usage_error(ctl, "more than %d devices",
					     MAX_DEVS);
			break;
		}
		if (!dpdk && !safe_ifname(w)) {
			rc = ctl_usage_error(ctl, "--xdp: \"%s\" is not an "
					     "interface name", w);
			break;
		}
		struct dev *v = &d->devs[d->n_devs];
		int r = resolve_dev(w, dpdk, v);

		if (r == -ENODEV) {
			/* Not an error of the command line: a finding. */
			snprintf(v->name, sizeof(v->name), "%s", w);
			v->driver[0] = '\0';
			v->pci[0] = v->ifname[0] = '\0';
		} else if (r < 0) {
			v->pci[0] = '\0';
		}
		if (!dpdk && !v->ifname[0] && r == 0)
			snprintf(v->ifname, sizeof(v->ifname), "%s", w);
		if (dpdk && v->pci[0])
			d->needs_pci = true;
		d->n_devs++;
	}
	free(copy);
	return rc;
}

/* Every interface with a PCI device behind it: the XDP candidates when
 * nothing was named. */
static void
add_host_nics(struct doctor *d)
{
	DIR *dir = opendir("/sys/class/net");
	struct dirent *e;
	char path[512];

	if (dir == NULL)
		return;
	while ((e = readdir(dir)) != NULL && d->n_devs < MAX_DEVS) {
		if (e->d_name[0] == '.' || !safe_ifname(e->d_name))
			continue;
		snprintf(path, sizeof(path), "/sys/class/net/%s/device",
			 e->d_name);
		if (!exists(path))
			continue;
		if (resolve_dev(e->d_name, false, &d->devs[d->n_devs]) == 0 &&
		    d->devs[d->n_devs].pci[0])
			d->n_devs++;
	}
	closedir(dir);
}

static void
check_devices(struct doctor *d)
{
	if (d->n_devs == 0) {
		report(d, LV_WARN, "nic", "name them: --nic (DPDK) or --xdp, "
		       "or SLUICE_EAL_ARGS -a in " DOCTOR_ENV_DEFAULT,
		       "no NIC given and none with a PCI device found");
		return;
	}
	for (int i = 0; i < d->n_devs; i++) {
		struct dev *v = &d->devs[i];
		char check[96];

		if (!v->pci[0] && !v->ifname[0]) {
			snprintf(check, sizeof(check), "nic %s", v->name);
			report(d, LV_FAIL, check, "deploy/nic-bind.sh status "
			       "lists the NICs", "%s: no such PCI device or "
			       "interface", v->name);
			continue;
		}
		check_nic(d, v);
	}
	for (int i = 0; i < d->n_devs; i++)
		if (d->devs[i].ifname[0] && !d->devs[i].dpdk)
			check_rss(d, &d->devs[i]);
	for (int i = 0; i < d->n_devs; i++)
		if (d->devs[i].ifname[0] && !d->devs[i].dpdk)
			check_offloads(d, &d->devs[i]);
}

int
ctl_cmd_doctor(struct ctl *ctl, int argc, char **argv)
{
	struct doctor *d;
	struct ctl_args args;
	const char *nic, *lcores, *xdp, *etcd, *env;
	char *env_eal = NULL, *env_sd = NULL, *env_nic = NULL,
	     *env_lcores = NULL;
	int rc;

	rc = ctl_args_parse_n(ctl, argc, argv, &args, 0, "");
	if (rc != CTL_EXIT_OK || ctl->help)
		return rc;
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		ctl_args_free(&args);
		fprintf(stderr, "error: out of memory\n");
		return CTL_EXIT_USAGE;
	}
	d->json = ctl->output == CTL_OUTPUT_JSON;
	d->checks = json_array();
	nic = ctl_args_get(&args, "nic");
	lcores = ctl_args_get(&args, "lcores");
	xdp = ctl_args_get(&args, "xdp");
	etcd = ctl_args_get(&args, "etcd");
	env = ctl_args_get(&args, "env");

	if (env == NULL && access(DOCTOR_ENV_DEFAULT, R_OK) == 0)
		env = DOCTOR_ENV_DEFAULT;
	if (env != NULL && *env != '\0') {
		if (access(env, R_OK) != 0) {
			rc = ctl_usage_error(ctl, "--env %s: %s", env,
					     strerror(errno));
			goto out;
		}
		d->env_path = env;
		env_eal = env_value(env, "SLUICE_EAL_ARGS");
		env_sd = env_value(env, "SLUICED_OPTS");
		if (env_eal != NULL) {
			env_nic = word_after(env_eal, "-a", true);
			env_lcores = word_after(env_eal, "-l", false);
		}
		if (env_sd != NULL && etcd == NULL)
			d->etcd = word_after(env_sd, "--etcd", false);
	}
	if (lcores == NULL)
		lcores = env_lcores;
	if (lcores != NULL && parse_lcores(d, lcores) < 0) {
		rc = ctl_usage_error(ctl, "--lcores: \"%s\" is not a core list "
				     "such as 0-3,8", lcores);
		goto out;
	}
	if (etcd != NULL)
		d->etcd = strdup(etcd);
	if (nic == NULL)
		nic = env_nic;
	if (nic != NULL && (rc = add_devs(ctl, d, nic, true)) != CTL_EXIT_OK)
		goto out;
	if (xdp != NULL) {
		d->xdp_given = true;
		if ((rc = add_devs(ctl, d, xdp, false)) != CTL_EXIT_OK)
			goto out;
	}
	if (nic == NULL && xdp == NULL)
		add_host_nics(d);

	if (!d->json) {
		if (d->env_path)
			printf("options from %s\n", d->env_path);
	}
	check_hugepages(d);
	check_iommu(d);
	check_vfio(d);
	check_numa(d);
	check_isolation(d);
	check_devices(d);
	check_bpffs(d);
	check_sluiced(d, ctl);
	check_etcd(d);

	rc = d->counts[LV_FAIL] ? CTL_EXIT_REJECTED : CTL_EXIT_OK;
	if (d->json) {
		json_t *o = json_pack("{s:b, s:O, s:{s:i, s:i, s:i, s:i}}",
				      "ready", rc == CTL_EXIT_OK,
				      "checks", d->checks, "summary",
				      "ok", d->counts[LV_OK],
				      "warn", d->counts[LV_WARN],
				      "fail", d->counts[LV_FAIL],
				      "skip", d->counts[LV_SKIP]);

		ctl_print_json(o);
		json_decref(o);
	} else {
		printf("\n%s: %d ok, %d warn, %d fail\n", rc == CTL_EXIT_OK ?
		       "ready" : "NOT ready", d->counts[LV_OK],
		       d->counts[LV_WARN], d->counts[LV_FAIL]);
	}
out:
	ctl_args_free(&args);
	json_decref(d->checks);
	free(d->etcd);
	free(env_eal);
	free(env_sd);
	free(env_nic);
	free(env_lcores);
	free(d);
	return rc;
}
