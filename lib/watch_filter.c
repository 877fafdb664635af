/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The filter of a trace or capture (sluice/watch_filter.h): the filter as
 * the one rule of an otherwise empty policy, so that the policy decoder
 * checks each field as it checks a rule's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/errf.h"
#include "sluice/watch_filter.h"

/* Rule members a filter may not have: they are not about a packet's
 * headers, or not known when a watch takes the packet. */
static const char *const filter_refused[] = {
	"id", "comment", "action", "payload", "ct",
};

int
sl_watch_filter_compile(const json_t *filter, struct sl_match_compiled *mc,
			const char **in_port, char *err, size_t err_size)
{
	struct sl_policy_errors *errs = NULL;
	struct sl_policy *p = NULL;
	json_t *rule, *doc = NULL;
	char *text = NULL;
	int ret;

	memset(mc, 0, sizeof(*mc));
	mc->in_port = -1;
	*in_port = NULL;
	if (filter == NULL)
		return 0;
	if (!json_is_object(filter)) {
		sl_errf(err, err_size, "filter: not an object");
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(filter_refused) / sizeof(*filter_refused);
	     i++) {
		if (json_object_get(filter, filter_refused[i]) != NULL) {
			sl_errf(err, err_size, "filter.%s: not a filter field "
			     "(src, dst, proto, sport, dport, in_port, vlan, "
			     "tcp_flags)", filter_refused[i]);
			return -EINVAL;
		}
	}
	if (json_object_get(filter, "in_port") != NULL) {
		*in_port = json_string_value(json_object_get(filter,
							     "in_port"));
		if (*in_port == NULL) {
			sl_errf(err, err_size, "filter.in_port: not a port of "
			     "the policy in force");
			return -EINVAL;
		}
	}

	rule = json_deep_copy(filter);
	if (rule != NULL) {
		json_object_del(rule, "in_port");
		json_object_set_new(rule, "action", json_string("accept"));
		doc = json_pack("{s:i, s:[o]}", "version", SL_POLICY_VERSION,
				"rules", rule);
	}
	text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	errs = malloc(sizeof(*errs));
	if (text == NULL || errs == NULL) {
		sl_errf(err, err_size, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	ret = sl_policy_from_json_str(text, &p, errs);
	if (ret == -EINVAL && errs->count > 0) {
		const char *path = errs->list[0].path;

		if (strncmp(path, "rules[0].", 9) == 0)
			path += 9;
		sl_errf(err, err_size, "filter.%s: %s", path,
		     errs->list[0].message);
		goto out;
	}
	if (ret == 0)
		ret = sl_match_compile(p, 0, mc);
	if (ret != 0)
		sl_errf(err, err_size, "filter: %s", strerror(-ret));
out:
	sl_policy_free(p);
	free(errs);
	free(text);
	json_decref(doc);
	return ret;
}
