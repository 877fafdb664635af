/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluiced: options, start-up (state file, else --config, else an empty
 * policy), the event loop and shutdown.  SIGHUP reloads --config through
 * the same apply path as the API; SIGINT and SIGTERM stop the daemon, which
 * leaves the dataplane (or, with --backend xdp, the pinned XDP program)
 * forwarding with its last tables.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/xdp_maps.h"	/* SL_XDP_PIN_ROOT_DEFAULT, in any build */

#include "log.h"
#include "sluiced.h"

#define EXIT_USAGE 2
#define SD_LOOP_MAX_SLEEP_MS 1000

int
sd_loop_add(struct sluiced *sd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(sd->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

void
sd_loop_del(struct sluiced *sd, int fd)
{
	epoll_ctl(sd->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* The options, one table: long name, argument, what it sets. */
enum {
	OPT_CONFIG = 'c',
	OPT_HELP = 'h',
	OPT_STATE_DIR = 256,
	OPT_API_SOCKET,
	OPT_LISTEN,
	OPT_TOKEN_FILE,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_DP_SOCKET,
	OPT_MAX_BODY,
	OPT_MAX_CONNS,
	OPT_REQUEST_TIMEOUT,
	OPT_RATE,
	OPT_LOG_LEVEL,
	OPT_BACKEND,
	OPT_XDP_DEV,
	OPT_XDP_GENERIC,
	OPT_XDP_PIN_ROOT,
	OPT_XDP_ROUTE,
};

static const struct option long_options[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "api-socket", required_argument, NULL, OPT_API_SOCKET },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "dp-socket", required_argument, NULL, OPT_DP_SOCKET },
	{ "max-body", required_argument, NULL, OPT_MAX_BODY },
	{ "max-connections", required_argument, NULL, OPT_MAX_CONNS },
	{ "request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "backend", required_argument, NULL, OPT_BACKEND },
	{ "xdp-dev", required_argument, NULL, OPT_XDP_DEV },
	{ "xdp-generic", no_argument, NULL, OPT_XDP_GENERIC },
	{ "xdp-pin-root", required_argument, NULL, OPT_XDP_PIN_ROOT },
	{ "xdp-route", required_argument, NULL, OPT_XDP_ROUTE },
	SD_CLUSTER_LONG_OPTIONS
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: sluiced [options]\n"
"  -c, --config FILE       policy (YAML or JSON) to start from when there is\n"
"                          no state yet; SIGHUP applies it again\n"
"  --state-dir DIR         where state.json lives (%s)\n"
"  --api-socket PATH       API unix socket, mode 0660 (%s; '' for none)\n"
"  --listen HOST:PORT      also serve the API on TCP (needs --token-file)\n"
"  --token-file FILE       bearer token for the TCP listener\n"
"  --tls-cert FILE, --tls-key FILE   TLS on the TCP listener (PEM)\n"
"  --dp-socket PATH        the dataplane connects here (%s)\n"
"  --max-body BYTES        largest request body (%u)\n"
"  --max-connections N     open API connections at most (%u)\n"
"  --request-timeout S     idle seconds before a connection is closed (%u)\n"
"  --rate N                requests a second per listener (%u)\n"
"  --log-level LEVEL       err, warn, info (default) or debug\n"
"  --backend dpdk|xdp      who enforces the policy: the DPDK dataplane\n"
"                          (default) or the XDP program, run by sluiced\n"
"  --xdp-dev IF[,IF...]    xdp: the interfaces to attach to\n"
"  --xdp-generic           xdp: generic (skb) mode only\n"
"  --xdp-pin-root DIR      xdp: pin (and adopt) the program here (%s)\n"
"  --xdp-route fib|pass    xdp: route accepted packets in XDP through the\n"
"                          kernel FIB (fib), or leave them to the kernel\n"
"                          (pass); without it an adopted program keeps its\n"
"                          mode and a fresh one passes\n"
"docs/api.md describes the API; docs/sluiced.md the daemon.\n",
		SD_STATE_DIR_DEFAULT, SD_API_SOCKET_DEFAULT,
		SL_DP_SOCKET_DEFAULT, SD_MAX_BODY_DEFAULT,
		SD_MAX_CONNS_DEFAULT, SD_REQUEST_TIMEOUT_DEFAULT,
		SD_RATE_DEFAULT, SL_XDP_PIN_ROOT_DEFAULT);
	sd_cluster_usage(f);
}

static int
parse_uint(const char *opt, const char *s, unsigned long long min,
	   unsigned long long max, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || *s == '-' || *out < min ||
	    *out > max) {
		fprintf(stderr, "sluiced: --%s %s: want a number from %llu to "
			"%llu\n", opt, s, min, max);
		return -1;
	}
	return 0;
}

static int
parse_options(int argc, char **argv, struct sd_options *o)
{
	unsigned long long n;
	int c, level;

	*o = (struct sd_options){
		.state_dir = SD_STATE_DIR_DEFAULT,
		.api_socket = SD_API_SOCKET_DEFAULT,
		.dp_socket = SL_DP_SOCKET_DEFAULT,
		.max_body = SD_MAX_BODY_DEFAULT,
		.max_conns = SD_MAX_CONNS_DEFAULT,
		.request_timeout = SD_REQUEST_TIMEOUT_DEFAULT,
		.rate = SD_RATE_DEFAULT,
		.backend = "dpdk",
		.xdp_pin_root = SL_XDP_PIN_ROOT_DEFAULT,
	};
	sd_cluster_opts_default(&o->cluster);
	while ((c = getopt_long(argc, argv, "c:h", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG: o->config_file = optarg; break;
		case OPT_STATE_DIR: o->state_dir = optarg; break;
		case OPT_API_SOCKET: o->api_socket = optarg; break;
		case OPT_LISTEN: o->listen = optarg; break;
		case OPT_TOKEN_FILE: o->token_file = optarg; break;
		case OPT_TLS_CERT: o->tls_cert = optarg; break;
		case OPT_TLS_KEY: o->tls_key = optarg; break;
		case OPT_DP_SOCKET: o->dp_socket = optarg; break;
		case OPT_BACKEND: o->backend = optarg; break;
		case OPT_XDP_DEV: o->xdp_devs = optarg; break;
		case OPT_XDP_GENERIC: o->xdp_generic = true; break;
		case OPT_XDP_PIN_ROOT: o->xdp_pin_root = optarg; break;
		case OPT_XDP_ROUTE: o->xdp_route = optarg; break;
		case OPT_MAX_BODY:
			if (parse_uint("max-body", optarg, 1024, 1ull << 30,
				       &n) != 0)
				return -1;
			o->max_body = n;
			break;
		case OPT_MAX_CONNS:
			if (parse_uint("max-connections", optarg, 1, 10000,
				       &n) != 0)
				return -1;
			o->max_conns = (unsigned int)n;
			break;
		case OPT_REQUEST_TIMEOUT:
			if (parse_uint("request-timeout", optarg, 1, 3600,
				       &n) != 0)
				return -1;
			o->request_timeout = (unsigned int)n;
			break;
		case OPT_RATE:
			if (parse_uint("rate", optarg, 1, 1000000, &n) != 0)
				return -1;
			o->rate = (unsigned int)n;
			break;
		case OPT_LOG_LEVEL:
			level = sd_log_level_from_name(optarg);
			if (level < 0) {
				fprintf(stderr, "sluiced: --log-level %s: want "
					"err, warn, info or debug\n", optarg);
				return -1;
			}
			sd_log_level = level;
			break;
		case OPT_HELP:
			usage(stdout);
			exit(EXIT_SUCCESS);
		default:
			level = sd_cluster_option(&o->cluster, c, optarg);
			if (level == 0)
				break;
			if (level > 0)
				usage(stderr);
			return -1;
		}
	}
	if (sd_cluster_opts_check(&o->cluster) != 0)
		return -1;
	if (optind != argc) {
		fprintf(stderr, "sluiced: unexpected argument %s\n",
			argv[optind]);
		return -1;
	}
	if (o->listen != NULL && o->token_file == NULL) {
		fprintf(stderr, "sluiced: --listen needs --token-file: the TCP "
			"listener only serves requests with the bearer "
			"token\n");
		return -1;
	}
	if (strcmp(o->backend, "dpdk") != 0 && strcmp(o->backend, "xdp") != 0) {
		fprintf(stderr, "sluiced: --backend %s: want dpdk or xdp\n",
			o->backend);
		return -1;
	}
#ifndef SD_HAVE_XDP
	if (strcmp(o->backend, "xdp") == 0) {
		fprintf(stderr, "sluiced: --backend xdp: this sluiced was built "
			"without the XDP datapath (meson -Dxdp=false)\n");
		return -1;
	}
#endif
	if ((strcmp(o->backend, "xdp") == 0) != (o->xdp_devs != NULL)) {
		fprintf(stderr, "sluiced: --backend xdp and --xdp-dev go "
			"together\n");
		return -1;
	}
	if (o->xdp_route != NULL && strcmp(o->xdp_route, "fib") != 0 &&
	    strcmp(o->xdp_route, "pass") != 0) {
		fprintf(stderr, "sluiced: --xdp-route %s: want fib or pass\n",
			o->xdp_route);
		return -1;
	}
	if (o->xdp_route != NULL && o->xdp_devs == NULL) {
		fprintf(stderr, "sluiced: --xdp-route goes with --backend "
			"xdp\n");
		return -1;
	}
	if (o->xdp_pin_root[0] != '/') {
		fprintf(stderr, "sluiced: --xdp-pin-root %s: want an absolute "
			"path under /sys/fs/bpf\n", o->xdp_pin_root);
		return -1;
	}
	if ((o->tls_cert == NULL) != (o->tls_key == NULL) ||
	    (o->tls_cert != NULL && o->listen == NULL)) {
		fprintf(stderr, "sluiced: --tls-cert and --tls-key go together, "
			"with --listen\n");
		return -1;
	}
	return 0;
}

/* The token: the file's first line, at least 16 characters. */
static int
read_token(struct sluiced *sd)
{
	char line[512];
	FILE *f;

	if (sd->opt.token_file == NULL)
		return 0;
	f = fopen(sd->opt.token_file, "re");
	if (f == NULL || fgets(line, sizeof(line), f) == NULL) {
		SD_ERR("--token-file %s: %s", sd->opt.token_file,
		       f ? "empty" : strerror(errno));
		if (f)
			fclose(f);
		return -EINVAL;
	}
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	if (strlen(line) < 16) {
		SD_ERR("--token-file %s: the token must be at least 16 "
		       "characters", sd->opt.token_file);
		return -EINVAL;
	}
	sd->token = strdup(line);
	return sd->token ? 0 : -ENOMEM;
}

static int
mkdir_p(const char *dir, mode_t mode)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The directory a socket path lives in, made when missing (/run/sluice
 * after a reboot without systemd's RuntimeDirectory); failures show when
 * the socket is bound. */
static void
mkdir_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return;
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return;
	*slash = '\0';
	mkdir_p(dir, 0755);
}

/* The state at start: the state file, else --config, else empty. */
static int
load_state(struct sluiced *sd)
{
	struct sl_policy *p = NULL;
	struct sl_policy_errors errs;
	char path[PATH_MAX];
	int ret;

	ret = mkdir_p(sd->opt.state_dir, 0700);
	if (ret != 0) {
		SD_ERR("--state-dir %s: %s", sd->opt.state_dir,
		       strerror(-ret));
		return ret;
	}
	snprintf(path, sizeof(path), "%s/state.json", sd->opt.state_dir);
	sd->st.path = strdup(path);
	ret = sd_state_load(path, &p);
	if (ret == 0) {
		SD_INFO("state: generation %llu from %s",
			(unsigned long long)p->generation, path);
		return sd_state_install(sd, p, false);
	}
	if (ret != -ENOENT)
		return ret;
	if (sd->opt.config_file != NULL) {
		ret = sl_policy_load_file(sd->opt.config_file, &p, &errs);
		if (ret != 0) {
			if (ret == -EINVAL)
				sl_policy_errors_print(stderr,
						       sd->opt.config_file,
						       &errs);
			else
				SD_ERR("%s: %s", sd->opt.config_file,
				       strerror(-ret));
			return ret;
		}
		p->generation = 1;
		SD_INFO("state: %s as generation 1", sd->opt.config_file);
		return sd_state_install(sd, p, true);
	}
	p = sl_policy_new();
	if (p == NULL)
		return -ENOMEM;
	SD_INFO("state: empty (no %s, no --config)", path);
	return sd_state_install(sd, p, false);
}

/* SIGHUP: --config again, through the apply path. */
static void
reload_config(struct sluiced *sd)
{
	struct sl_policy *p = NULL;
	struct sl_policy_errors errs;
	struct sd_err e = { 0 };
	uint64_t before = sd->st.policy->generation;
	int ret;

	if (sd->opt.config_file == NULL) {
		SD_WARN("SIGHUP: no --config to reload");
		return;
	}
	ret = sl_policy_load_file(sd->opt.config_file, &p, &errs);
	if (ret != 0) {
		if (ret == -EINVAL)
			sl_policy_errors_print(stderr, sd->opt.config_file,
					       &errs);
		SD_ERR("SIGHUP: %s refused; generation %llu stays",
		       sd->opt.config_file, (unsigned long long)before);
		return;
	}
	/* --config is this node's local document: the cluster's shared
	 * items are merged in, as for PUT /v1/config. */
	char *text = sl_policy_to_json(p, 0);

	sl_policy_free(p);
	ret = text ? sd_apply_local(sd, text, strlen(text), false, false,
				    SD_GEN_ANY, 0, NULL, &e) : -1;
	if (text == NULL)
		sd_err_set(&e, 503, "out_of_memory", NULL, "out of memory");
	free(text);
	if (ret != 0) {
		SD_ERR("SIGHUP: %s%s%s", e.field, e.field[0] ? ": " : "",
		       e.message);
		json_decref(e.details);
		return;
	}
	if (sd->st.policy->generation == before)
		SD_INFO("SIGHUP: %s is the state already",
			sd->opt.config_file);
}

static int
signals_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* Returns the signal that stopped it. */
static int
run_loop(struct sluiced *sd, int sigfd)
{
	for (;;) {
		struct epoll_event ev[16];
		/* Before the API runs, so that a call the backend resumes
		 * is answered in this turn. */
		int bt = sd->backend != NULL && sd->backend->tick != NULL ?
			 sd->backend->tick(sd) : -1;
		int timeout = sd_api_run(sd), t, n;

		if (bt >= 0 && (timeout < 0 || bt < timeout))
			timeout = bt;

		if (sd->dp.sync_wanted) {
			sd->dp.sync_wanted = false;
			sd_dp_sync(sd);
		}
		t = sd_dp_tick(sd);

		if (t >= 0 && (timeout < 0 || t < timeout))
			timeout = t;
		t = sd_cluster_tick(sd);
		if (t >= 0 && (timeout < 0 || t < timeout))
			timeout = t;
		/* A safety net, not a tick: nothing here needs polling, but a
		 * missed wake-up of libmicrohttpd's must not last. */
		if (timeout < 0 || timeout > SD_LOOP_MAX_SLEEP_MS)
			timeout = SD_LOOP_MAX_SLEEP_MS;
		n = epoll_wait(sd->epfd, ev, 16, timeout);
		if (n < 0 && errno != EINTR) {
			SD_ERR("epoll_wait: %s", strerror(errno));
			return SIGTERM;
		}
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == sigfd) {
				struct signalfd_siginfo si;

				while (read(sigfd, &si, sizeof(si)) ==
				       sizeof(si)) {
					if (si.ssi_signo == SIGHUP)
						reload_config(sd);
					else
						return (int)si.ssi_signo;
				}
			} else if (fd == sd->dp.listen_fd) {
				sd_dp_on_listen(sd);
			} else if (fd == sd->dp.fd) {
				sd_dp_on_readable(sd);
			}
			/* MHD's epoll fds: sd_api_run() at the top. */
		}
	}
}

int
main(int argc, char **argv)
{
	struct sluiced sd = { .epfd = -1 };
	int sigfd, sig, ret;

	if (parse_options(argc, argv, &sd.opt) != 0)
		return EXIT_USAGE;
	sd.started = time(NULL);
	gethostname(sd.hostname, sizeof(sd.hostname) - 1);
	sd.dp.fd = -1;
	sd.dp.listen_fd = -1;
	if (sd_cluster_init(&sd) != 0 || read_token(&sd) != 0 ||
	    load_state(&sd) != 0)
		return EXIT_FAILURE;
	sd.epfd = epoll_create1(EPOLL_CLOEXEC);
	sigfd = signals_fd();
	if (sd.epfd < 0 || sigfd < 0 || sd_loop_add(&sd, sigfd) != 0) {
		SD_ERR("cannot set up the event loop: %s", strerror(errno));
		return EXIT_FAILURE;
	}
	if (sd.opt.api_socket[0] != '\0')
		mkdir_parent(sd.opt.api_socket);
#ifdef SD_HAVE_XDP
	if (strcmp(sd.opt.backend, "xdp") == 0 && sd_xdp_start(&sd) != 0)
		return EXIT_FAILURE;
#endif
	/* Only the DPDK backend has a dataplane to talk to. */
	ret = 0;
	if (sd.backend == NULL) {
		mkdir_parent(sd.opt.dp_socket);
		ret = sd_dp_listen(&sd);
	}
	if (ret == 0)
		ret = sd_api_start(&sd);
	if (ret == 0)
		ret = sd_cluster_start(&sd);
	if (ret != 0) {
		sd_api_stop(&sd);
		return EXIT_FAILURE;
	}
	SD_INFO("ready: generation %llu, %s %s",
		(unsigned long long)sd.st.policy->generation,
		sd.backend ? "backend" : "dataplane socket",
		sd.backend ? sd.backend->name : sd.opt.dp_socket);
	sig = run_loop(&sd, sigfd);
	SD_INFO("signal %d: stopping (the %s keeps forwarding)", sig,
		sd.backend ? "pinned XDP program" : "dataplane");
	/* Waiting HTTP requests get their error before the servers stop. */
	sd_dp_close(&sd, "sluiced is stopping");
	sd_shared_abort(&sd, "sluiced is stopping");
	if (sd.backend != NULL && sd.backend->abort != NULL)
		sd.backend->abort(&sd, "sluiced is stopping");
	sd_api_run(&sd);
	sd_api_stop(&sd);
	sd_cluster_stop(&sd);
	if (sd.backend != NULL)
		sd.backend->stop(&sd);
	if (sd.dp.listen_fd >= 0) {
		close(sd.dp.listen_fd);
		unlink(sd.opt.dp_socket);
	}
	sl_policy_free(sd.st.policy);
	free(sd.st.text);
	free(sd.st.path);
	free(sd.token);
	return EXIT_SUCCESS;
}
