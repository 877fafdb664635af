/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluicectl [GLOBAL OPTIONS] COMMAND [ARGS]: the table of commands, the
 * global options, and the dispatch from the command line to one command.
 */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "ctl.h"

/* A command's flag tables, as the NULL-terminated list it holds. */
#define FLAGS(...) ((const struct ctl_flag *const []){__VA_ARGS__, NULL})

static ctl_command_fn cmd_help;

/* Every command: name, handler, usage, help, flags, whether it writes.
 * Listed in this order by "sluicectl help". */
static const struct ctl_command commands[] = {
	{"status", ctl_cmd_status, "",
	 "the daemon: version, generation, dataplane, cluster, counts",
	 NULL, false},
	{"apply", ctl_cmd_apply, "-f FILE [--dry-run]",
	 "replace the whole configuration with FILE (YAML or JSON, - for "
	 "stdin) and print the diff; --dry-run only validates and prints it",
	 FLAGS(ctl_apply_flags), true},
	{"config get", ctl_cmd_config_get, "",
	 "print the configuration as JSON (what apply -f takes)",
	 NULL, false},
	{"rule list", ctl_cmd_rule_list, "",
	 "the firewall rules in match order, and the default action",
	 NULL, false},
	{"rule show", ctl_cmd_rule_show, "ID", "one rule and its position",
	 NULL, false},
	{"rule add", ctl_cmd_rule_add,
	 "--action ACTION [--id ID] [MATCH FLAGS] [--position N]",
	 "insert a rule at --position (0 is first; default: last)",
	 FLAGS(ctl_rule_add_flags, ctl_match_flags), true},
	{"rule del", ctl_cmd_rule_del, "ID", "delete a rule", NULL, true},
	{"route list", ctl_cmd_route_list, "", "the static routes",
	 NULL, false},
	{"route add", ctl_cmd_route_add,
	 "PREFIX [via GW] dev PORT [weight W] [[via GW] dev PORT "
	 "[weight W]]...",
	 "add a static route; several next hops make an ECMP route",
	 NULL, true},
	{"route del", ctl_cmd_route_del, "PREFIX", "delete a static route",
	 NULL, true},
	{"group list", ctl_cmd_group_list, "",
	 "the replication and steering groups", NULL, false},
	{"group show", ctl_cmd_group_show, "NAME", "one group and its targets",
	 NULL, false},
	{"group add", ctl_cmd_group_add,
	 "NAME [--table-size N] [--replace] TARGET...",
	 "add a group (--replace: replace it); TARGET is port PORT, or "
	 "vxlan|geneve|gre REMOTE, then [vni N] [udp-port N] [local ADDR] "
	 "[key N] [weight N] [state up|down|draining]",
	 FLAGS(ctl_group_add_flags), true},
	{"group del", ctl_cmd_group_del, "NAME",
	 "delete a group no rule names", NULL, true},
	{"port list", ctl_cmd_port_list, "",
	 "the ports, with counters while the dataplane is connected",
	 NULL, false},
	{"stats", ctl_cmd_stats, "",
	 "the dataplane's counters: ports, drop reasons seen, rules",
	 NULL, false},
	{"trace", ctl_cmd_trace, "[-c N] [--wait S] [FILTER]",
	 "follow the next N packets that match FILTER (match flags, or "
	 "pairs like: src 10.0.0.0/8 dport 80): rule, route, targets, "
	 "drop reason",
	 FLAGS(ctl_trace_flags, ctl_match_flags), false},
	{"capture", ctl_cmd_capture,
	 "--port PORT [-c N] -w FILE [--wait S] [FILTER]",
	 "write N packets received at PORT to FILE as pcapng (- for stdout)",
	 FLAGS(ctl_capture_flags, ctl_match_flags), false},
	{"members", ctl_cmd_members, "", "the cluster members", NULL, false},
	{"doctor", ctl_cmd_doctor,
	 "[--nic LIST] [--lcores LIST] [--xdp LIST] [--etcd URLS] [--env FILE]",
	 "check this host for Sluice and explain each finding with its fix: "
	 "hugepages, IOMMU and vfio, NUMA, isolated cores, NIC drivers and "
	 "XDP, RSS, offloads, bpffs, sluiced, etcd; exit 1 when not ready",
	 FLAGS(ctl_doctor_flags), false},
	{"help", cmd_help, "[COMMAND]", "help on sluicectl or one command",
	 NULL, false},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/*
 * The command that words[0..n) start with: two words ("rule add") before
 * one ("stats").  *n_words gets how many it took.
 */
static const struct ctl_command *
find_command(char **words, int n, int *n_words)
{
	char two[128];

	if (n >= 2) {
		snprintf(two, sizeof(two), "%s %s", words[0], words[1]);
		for (size_t i = 0; i < N_COMMANDS; i++) {
			if (strcmp(commands[i].name, two) == 0) {
				*n_words = 2;
				return &commands[i];
			}
		}
	}
	for (size_t i = 0; n >= 1 && i < N_COMMANDS; i++) {
		if (strcmp(commands[i].name, words[0]) == 0) {
			*n_words = 1;
			return &commands[i];
		}
	}
	return NULL;
}

/* True when some command's name starts with word and a space ("rule"). */
static bool
is_command_group(const char *word)
{
	size_t len = strlen(word);

	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strncmp(commands[i].name, word, len) == 0 &&
		    commands[i].name[len] == ' ')
			return true;
	return false;
}

static void
print_group_usage(FILE *f, const char *group)
{
	size_t len = strlen(group);

	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strncmp(commands[i].name, group, len) == 0 &&
		    commands[i].name[len] == ' ')
			ctl_print_usage(f, &commands[i]);
}

static void
print_main_help(FILE *f)
{
	fprintf(f, "usage: sluicectl [OPTIONS] COMMAND [ARGS]\n\n"
		"The admin CLI of sluiced (docs/api.md); man sluicectl.\n\n"
		"Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++) {
		char lhs[160];

		snprintf(lhs, sizeof(lhs), "%s%s%s", commands[i].name,
			 *commands[i].usage ? " " : "", commands[i].usage);
		fprintf(f, "  %s\n      %s\n", lhs, commands[i].help);
	}
	fprintf(f, "\nGlobal options (before or after the command):\n");
	ctl_print_global_flags(f);
	fprintf(f, "\nExit status: 0 done; 1 refused by sluiced (its error on "
		"stderr); 2 bad command line;\n3 sluiced not reached (no "
		"socket, connection refused, timeout).\n");
}

static int
cmd_help(struct ctl *ctl, int argc, char **argv)
{
	const struct ctl_command *cmd;
	struct ctl_args args;
	int rc, n_words;

	rc = ctl_args_parse(ctl, argc, argv, &args);
	if (rc != CTL_EXIT_OK || ctl->help) {
		ctl_args_free(&args);
		return rc;
	}
	if (args.n_pos == 0) {
		print_main_help(stdout);
		ctl_args_free(&args);
		return CTL_EXIT_OK;
	}
	cmd = find_command(args.pos, args.n_pos, &n_words);
	if (cmd != NULL && n_words == args.n_pos) {
		ctl_print_command_help(cmd);
		rc = CTL_EXIT_OK;
	} else if (args.n_pos == 1 && is_command_group(args.pos[0])) {
		print_group_usage(stdout, args.pos[0]);
		rc = CTL_EXIT_OK;
	} else {
		rc = ctl_usage_error(ctl, "no command \"%s\"", args.pos[0]);
	}
	ctl_args_free(&args);
	return rc;
}

int
main(int argc, char **argv)
{
	struct ctl ctl = {.timeout_ms = CTL_TIMEOUT_MS_DEFAULT};
	const struct ctl_command *cmd;
	char name[160];
	char **cmd_argv;
	int first, n_words, rc;

	rc = ctl_globals_parse(&ctl, argc, argv, &first);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (first >= argc) {
		if (ctl.help) {
			print_main_help(stdout);
			return CTL_EXIT_OK;
		}
		fprintf(stderr, "error: no command\n");
		fprintf(stderr, "usage: sluicectl [OPTIONS] COMMAND [ARGS] "
			"(sluicectl help lists the commands)\n");
		return CTL_EXIT_USAGE;
	}
	cmd = find_command(argv + first, argc - first, &n_words);
	if (cmd == NULL) {
		if (is_command_group(argv[first])) {
			if (first + 1 < argc && (!strcmp(argv[first + 1], "-h") ||
			    !strcmp(argv[first + 1], "--help"))) {
				print_group_usage(stdout, argv[first]);
				return CTL_EXIT_OK;
			}
			if (first + 1 < argc)
				fprintf(stderr, "error: no command \"%s %s\"\n",
					argv[first], argv[first + 1]);
			else
				fprintf(stderr, "error: \"%s\" needs a "
					"subcommand\n", argv[first]);
			print_group_usage(stderr, argv[first]);
		} else {
			fprintf(stderr, "error: no command \"%s\"\n"
				"usage: sluicectl [OPTIONS] COMMAND [ARGS] "
				"(sluicectl help lists the commands)\n",
				argv[first]);
		}
		return CTL_EXIT_USAGE;
	}

	/* The command sees argv[0] = "sluicectl NAME", then its arguments. */
	snprintf(name, sizeof(name), "sluicectl %s", cmd->name);
	cmd_argv = calloc((size_t)argc + 1, sizeof(*cmd_argv));
	if (cmd_argv == NULL) {
		fprintf(stderr, "error: out of memory\n");
		return CTL_EXIT_USAGE;
	}
	cmd_argv[0] = name;
	for (int i = first + n_words; i < argc; i++)
		cmd_argv[i - first - n_words + 1] = argv[i];
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "error: libcurl did not initialise\n");
		free(cmd_argv);
		return CTL_EXIT_UNREACHABLE;
	}
	ctl.cmd = cmd;
	rc = cmd->run(&ctl, argc - first - n_words + 1, cmd_argv);
	curl_global_cleanup();
	free(cmd_argv);
	if (fflush(stdout) != 0 && rc == CTL_EXIT_OK) {
		/* A full disk or a closed pipe is not success. */
		perror("error: writing the output");
		rc = CTL_EXIT_REJECTED;
	}
	return rc;
}
