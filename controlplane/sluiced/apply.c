/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one apply path (STYLE.md, "one operation, one function"): every
 * change of the desired state - an API write, a SIGHUP reload of --config,
 * the cluster watch (shared.c) - is a whole candidate policy handed to
 * sd_apply(), which checks the generation, persists, installs and pushes,
 * in that order, so a change that is acknowledged is on disk first.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "sluice/policy_diff.h"

#include "log.h"
#include "sluiced.h"

#define SD_DIFF_LIST_MAX 1000

void
sd_err_set(struct sd_err *e, unsigned int status, const char *code,
	   const char *field, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	e->code = code;
	snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

static json_t *
errors_json(const struct sl_policy_errors *errs, bool positions)
{
	json_t *list = json_array();

	for (unsigned int i = 0; i < errs->count; i++) {
		const struct sl_policy_error *pe = &errs->list[i];
		json_t *o = json_pack("{s:s, s:s}", "field", pe->path,
				      "message", pe->message);

		if (pe->line != 0 && positions) {
			json_object_set_new(o, "line", json_integer(pe->line));
			json_object_set_new(o, "column",
					    json_integer(pe->column));
		}
		json_array_append_new(list, o);
	}
	return list;
}

int
sd_decode_policy(const char *buf, size_t len, bool yaml, bool positions,
		 struct sl_policy **out, struct sd_err *e)
{
	struct sl_policy_errors errs;
	int ret;

	ret = yaml ? sl_policy_from_yaml_buf(buf, len, out, &errs)
		   : sl_policy_from_json_buf(buf, len, out, &errs);
	if (ret == 0)
		return sd_cluster_check_policy(*out, out, e);
	if (ret == -ENOMEM) {
		sd_err_set(e, 503, "out_of_memory", NULL,
			   "out of memory decoding the policy");
		return -1;
	}
	if (ret == -EFBIG) {
		sd_err_set(e, 413, "too_large", NULL,
			   "the document is over the policy size limit");
		return -1;
	}
	if (errs.count == 0) {
		sd_err_set(e, 400, "bad_json", NULL, "the document is not %s",
			   yaml ? "YAML" : "JSON");
		return -1;
	}
	const struct sl_policy_error *first = &errs.list[0];
	/* A decoder error with no path is the text itself (syntax). */
	bool syntax = first->path[0] == '\0';

	if (first->line != 0 && positions)
		sd_err_set(e, syntax ? 400 : 422, syntax ? "bad_json"
			   : "invalid", first->path, "line %u column %u: %s",
			   first->line, first->column, first->message);
	else
		sd_err_set(e, syntax ? 400 : 422, syntax ? "bad_json"
			   : "invalid", first->path, "%s", first->message);
	if (errs.count + errs.dropped > 1)
		e->details = errors_json(&errs, positions);
	return -1;
}

/* Make policy the state: canonical text, digest.  Takes policy. */
static int
install(struct sluiced *sd, struct sl_policy *policy, char *text)
{
	sl_policy_free(sd->st.policy);
	free(sd->st.text);
	sd->st.policy = policy;
	sd->st.text = text;
	snprintf(sd->st.digest, sizeof(sd->st.digest), "%016llx",
		 (unsigned long long)XXH3_64bits(text, strlen(text)));
	sd_cluster_state_changed(sd);	/* cluster groups' targets */
	return 0;
}

int
sd_state_install(struct sluiced *sd, struct sl_policy *policy, bool persist)
{
	char *text = sl_policy_to_json(policy, 0);
	int ret;

	if (text == NULL) {
		sl_policy_free(policy);
		return -errno;
	}
	if (persist) {
		ret = sd_state_write(sd->st.path, text);
		if (ret != 0) {
			SD_ERR("cannot write %s: %s", sd->st.path,
			       strerror(-ret));
			free(text);
			sl_policy_free(policy);
			return ret;
		}
	}
	sd->st.persisted = persist;
	return install(sd, policy, text);
}

/*
 * A diff for people and scripts, not a dump: each list is cut to its first
 * SD_DIFF_LIST_MAX items (a new 1M-route table would otherwise answer with
 * a million prefixes); a section with a list cut says so ("truncated") and
 * how many items each of its lists had ("counts").
 */
static void
trim_diff(json_t *diff)
{
	static const char *const sections[] = { "rules", "routes", "groups",
						"ports" };

	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		json_t *sec = json_object_get(diff, sections[i]);
		json_t *counts = json_object(), *list;
		bool cut = false;
		const char *key;

		if (!json_is_object(sec) || counts == NULL) {
			json_decref(counts);
			continue;
		}
		json_object_foreach(sec, key, list) {
			size_t n = json_array_size(list);

			if (!json_is_array(list))
				continue;
			json_object_set_new(counts, key,
					    json_integer((json_int_t)n));
			while (json_array_size(list) > SD_DIFF_LIST_MAX) {
				json_array_remove(list,
						  json_array_size(list) - 1);
				cut = true;
			}
		}
		if (cut) {
			json_object_set_new(sec, "counts", counts);
			json_object_set_new(sec, "truncated", json_true());
		} else {
			json_decref(counts);
		}
	}
}

/*
 * The backend judges what it would run: next with its cluster groups'
 * targets derived from the members live now (a steer to a cluster group
 * of VXLAN members is steer to VXLAN tunnels).  A later member set is
 * judged when it comes (cluster.c), by apply() alone.  0, or -1 with e set.
 */
static int
backend_check(struct sluiced *sd, const struct sl_policy *next,
	      struct sd_err *e)
{
	struct sl_policy *eff;
	int ret;

	ret = sd_cluster_effective(sd, next, &eff);
	if (ret != 0) {
		sd_err_set(e, 503, "out_of_memory", NULL, "cannot derive the "
			   "cluster groups' targets: %s", strerror(-ret));
		return -1;
	}
	ret = sd->backend->check(sd, eff != NULL ? eff : next, e);
	sl_policy_free(eff);
	return ret;
}

int
sd_apply(struct sluiced *sd, struct sl_policy *next, uint64_t if_generation,
	 unsigned int flags, json_t **diff_out, struct sd_err *e)
{
	uint64_t cur = sd->st.policy->generation;
	char *text;
	int ret;

	if (diff_out != NULL)
		*diff_out = NULL;
	if (if_generation != SD_GEN_ANY && if_generation != cur) {
		sd_err_set(e, 409, "conflict", "generation", "the change is "
			   "based on generation %llu but the state is at "
			   "generation %llu: read it again and retry",
			   (unsigned long long)if_generation,
			   (unsigned long long)cur);
		sl_policy_free(next);
		sd->refused++;
		return -1;
	}
	next->generation = cur;
	if (diff_out != NULL) {
		*diff_out = sl_policy_diff(sd->st.policy, next);
		if (*diff_out == NULL) {
			sd_err_set(e, 503, "out_of_memory", NULL,
				   "out of memory computing the diff");
			sl_policy_free(next);
			return -1;
		}
		trim_diff(*diff_out);
	}
	/* A policy the backend cannot enforce is refused before it is
	 * persisted, and a dry run says so too: persisted, it would be the
	 * state while the XDP program runs an older one. */
	if (sd->backend != NULL && backend_check(sd, next, e) != 0) {
		sd->refused++;
		goto fail;
	}
	if ((flags & SD_APPLY_DRY_RUN) || sl_policy_equal(sd->st.policy,
							  next)) {
		sl_policy_free(next);
		return 0;
	}

	next->generation = cur + 1;
	text = sl_policy_to_json(next, 0);
	if (text == NULL) {
		sd_err_set(e, 503, "out_of_memory", NULL,
			   "out of memory encoding the policy");
		goto fail;
	}
	ret = sd_state_write(sd->st.path, text);
	if (ret != 0) {
		/* Not acknowledged, not installed: the old state stays. */
		SD_ERR("cannot persist generation %llu to %s: %s",
		       (unsigned long long)next->generation, sd->st.path,
		       strerror(-ret));
		sd_err_set(e, 507, "state_not_saved", NULL, "cannot write "
			   "the state file %s: %s; nothing changed",
			   sd->st.path, strerror(-ret));
		free(text);
		goto fail;
	}
	sd->st.persisted = true;
	install(sd, next, text);
	sd->applies++;
	SD_INFO("generation %llu in force (%zu rules, %zu routes, %zu "
		"groups)", (unsigned long long)next->generation,
		next->n_rules, next->n_routes, next->n_groups);
	/* Checked above, so only a resource failure can refuse it here;
	 * the backend logs it and /v1/status shows it.  It runs what the
	 * dataplane would: the state with cluster groups' targets derived
	 * (install() derived it), and again when members come or go
	 * (cluster.c). */
	if (sd->backend != NULL)
		sd->backend->apply(sd, sd_push_policy(sd));
	/* Pushed from the event loop once the reply is on its way, so a
	 * big push does not hold the acknowledgement back. */
	sd->dp.sync_wanted = true;
	return 0;
fail:
	if (diff_out != NULL) {
		json_decref(*diff_out);
		*diff_out = NULL;
	}
	sl_policy_free(next);
	return -1;
}
