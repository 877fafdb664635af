/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shared desired state (shared.h, docs/cluster.md).
 *
 * A write (PUT /v1/cluster/config) is checked here first - merged with
 * this node's local document and decoded like any change - then goes to
 * etcd as one transaction: compare the key's mod_revision with the
 * revision the write is based on, put on success, read the key on
 * failure (409 with the current revision).  The HTTP connection is
 * suspended meanwhile.  Nothing is applied on the write: every node,
 * the writer too, applies the new document when its watch delivers it
 * (sd_shared_received()), through sd_apply(); the writer answers once it
 * has (or after SD_SHARED_WAIT_MS, 202).
 *
 * A document a node cannot take (the merge is not a valid policy there)
 * is refused on that node only: its state stays whole, the error shows
 * in /v1/status and /metrics, and it is tried again after the next
 * local change and at every new session.
 *
 * shared.json: {"current": ENTRY, "previous": ENTRY or null}, ENTRY =
 * {"revision": R, "generation": G, "document": DOC}.  It is written
 * before the state file, with G the generation the apply will give; the
 * entry whose G is the state's (or older) is the one in force at load,
 * so a crash between the two writes leaves a pair that still agrees.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "etcd.h"
#include "log.h"
#include "sluiced.h"

#define SD_SHARED_WAIT_MS 5000	/* a writer waits this long for its watch */

/* The lists a shared document holds, and the member naming an item. */
static const char *const lists[] = { "rules", "routes", "groups" };
static const char *const name_keys[] = { "id", "prefix", "name" };
#define N_LISTS 3

/* A write: its etcd transaction in flight, then waiting for the watch. */
struct sh_wait {
	struct sluiced *sd;
	struct sd_call *c;
	struct sd_etcd_req *txn;	/* NULL: written, waiting */
	int64_t rev;			/* written at (once txn answered) */
	int64_t deadline_ms;
	json_t *diff;			/* against the state when written */
	struct sh_wait *next;
};

struct sd_shared {
	char *path;			/* STATE_DIR/shared.json */
	json_t *doc;			/* in force; all three lists present */
	int64_t revision;		/* of doc; 0: none yet */
	uint64_t generation;		/* the state's when doc went in */
	int64_t seen;			/* the latest revision etcd showed */
	json_t *refused_doc;		/* the latest, refused here, or NULL */
	int64_t refused_rev;
	struct sd_err err;		/* why (details not kept) */
	uint64_t applied, refused;
	bool retry_wanted;		/* a local change: try refused_doc */
	struct sh_wait *waits;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static json_t *
empty_doc(void)
{
	return json_pack("{s:[], s:[], s:[]}", "rules", "routes", "groups");
}

/*
 * The name of item of list l as the state spells it: a rule's id (a
 * number as its digits), a route's canonical prefix, a group's name.
 * NULL when it has none.
 */
static const char *
item_name(size_t l, json_t *item, char *buf)
{
	json_t *v = json_object_get(item, name_keys[l]);
	struct sl_prefix p;

	if (json_is_integer(v)) {
		snprintf(buf, SL_PREFIX_STRLEN, "%lld",
			 (long long)json_integer_value(v));
		return buf;
	}
	if (!json_is_string(v))
		return NULL;
	if (l == 1 && sl_prefix_from_string(json_string_value(v), &p, NULL,
					     0) == 0)
		return sl_prefix_format(&p, true, buf);
	return json_string_value(v);
}

/* The names of doc's list l, as a set (a JSON object); NULL: ENOMEM. */
static json_t *
name_set(json_t *doc, size_t l)
{
	json_t *set = json_object(), *it;
	char buf[SL_PREFIX_STRLEN];
	size_t i;

	json_array_foreach(json_object_get(doc, lists[l]), i, it) {
		const char *n = item_name(l, it, buf);

		if (n != NULL)
			json_object_set_new(set, n, json_true());
	}
	return set;
}

/*
 * A shared document as sent or stored: an object with rules, routes and
 * groups only, each a list of objects that name themselves (a shared rule
 * needs its id: the automatic one would not survive an edit).  Returns a
 * normalised copy (all three lists), or NULL with e set (422).
 */
static json_t *
shape_check(json_t *in, struct sd_err *e)
{
	const char *key;
	json_t *v, *out;

	if (!json_is_object(in)) {
		sd_err_set(e, 422, "invalid", "", "the shared configuration "
			   "is an object with rules, routes and groups");
		return NULL;
	}
	json_object_foreach(in, key, v) {
		bool known = false;

		for (size_t l = 0; l < N_LISTS; l++)
			known |= strcmp(key, lists[l]) == 0;
		if (!known) {
			sd_err_set(e, 422, "invalid", key, "the shared "
				   "configuration holds rules, routes and "
				   "groups only, not \"%.64s\"", key);
			return NULL;
		}
	}
	out = empty_doc();
	for (size_t l = 0; l < N_LISTS && out != NULL; l++) {
		json_t *list = json_object_get(in, lists[l]), *it;
		char buf[SL_PREFIX_STRLEN];
		size_t i;

		if (list == NULL)
			continue;
		if (!json_is_array(list)) {
			sd_err_set(e, 422, "invalid", lists[l], "%s must be a "
				   "list", lists[l]);
			goto bad;
		}
		json_array_foreach(list, i, it) {
			char field[64];

			snprintf(field, sizeof(field), "%s[%zu].%s", lists[l],
				 i, name_keys[l]);
			if (!json_is_object(it) || item_name(l, it, buf) ==
			    NULL) {
				sd_err_set(e, 422, "invalid", field, "a shared "
					   "%s needs its %s", l == 0 ? "rule" :
					   l == 1 ? "route" : "group",
					   name_keys[l]);
				goto bad;
			}
		}
		json_object_set(out, lists[l], list);
	}
	return out;
bad:
	json_decref(out);
	return NULL;
}

static bool
has_items(const struct sd_shared *sh)
{
	for (size_t l = 0; sh != NULL && l < N_LISTS; l++)
		if (json_array_size(json_object_get(sh->doc, lists[l])) > 0)
			return true;
	return false;
}

size_t
sd_shared_count(const struct sluiced *sd, const char *list)
{
	if (sd->shared == NULL)
		return 0;
	return json_array_size(json_object_get(sd->shared->doc, list));
}

json_t *
sd_local_doc(const struct sluiced *sd)
{
	json_t *doc = json_loads(sd->st.text, 0, NULL);

	if (doc == NULL || !has_items(sd->shared))
		return doc;
	for (size_t l = 0; l < N_LISTS; l++) {
		json_t *set = name_set(sd->shared->doc, l);
		json_t *keep = json_array(), *it;
		char buf[SL_PREFIX_STRLEN];
		size_t i;

		json_array_foreach(json_object_get(doc, lists[l]), i, it) {
			const char *n = item_name(l, it, buf);

			if (n == NULL || json_object_get(set, n) == NULL)
				json_array_append(keep, it);
		}
		json_object_set_new(doc, lists[l], keep);
		json_decref(set);
	}
	return doc;
}

/* local with shared's items first in each list: a new object (local's
 * other members shared with it). */
static json_t *
merge(json_t *local, json_t *shared)
{
	json_t *out = json_copy(local);

	for (size_t l = 0; out != NULL && l < N_LISTS; l++) {
		json_t *list = json_array(), *own = json_object_get(local,
								    lists[l]);

		json_array_extend(list, json_object_get(shared, lists[l]));
		if (json_is_array(own))
			json_array_extend(list, own);
		json_object_set_new(out, lists[l], list);
	}
	return out;
}

/* Decode local + shared as the candidate state.  0 or -1 with e set. */
static int
decode_merged(json_t *local, json_t *shared, struct sl_policy **out,
	      struct sd_err *e)
{
	json_t *m = merge(local, shared);
	char *text = m != NULL ? json_dumps(m, JSON_COMPACT) : NULL;
	int ret;

	json_decref(m);
	if (text == NULL) {
		sd_err_set(e, 503, "out_of_memory", NULL, "out of memory");
		return -1;
	}
	ret = sd_decode_policy(text, strlen(text), false, false, out, e);
	free(text);
	return ret;
}

int
sd_apply_local(struct sluiced *sd, const char *text, size_t len, bool yaml,
	       bool positions, uint64_t if_generation, unsigned int flags,
	       json_t **diff_out, struct sd_err *e)
{
	struct sl_policy *next = NULL;
	json_t *local;
	int ret;

	if (diff_out != NULL)
		*diff_out = NULL;
	if (!has_items(sd->shared)) {
		if (sd_decode_policy(text, len, yaml, positions, &next,
				     e) != 0) {
			sd->refused++;
			return -1;
		}
	} else {
		json_error_t jerr;

		if (yaml) {
			/* YAML goes through the policy library, so it must
			 * be valid alone (JSON need not: it may name shared
			 * groups). */
			char *canon;

			if (sd_decode_policy(text, len, true, positions,
					     &next, e) != 0) {
				sd->refused++;
				return -1;
			}
			canon = sl_policy_to_json(next, 0);
			sl_policy_free(next);
			next = NULL;
			local = canon ? json_loads(canon, 0, &jerr) : NULL;
			free(canon);
		} else {
			local = json_loadb(text, len, JSON_REJECT_DUPLICATES,
					   &jerr);
			if (local == NULL) {
				sd_err_set(e, 400, "bad_json", NULL, "line %d "
					   "column %d: %s", jerr.line,
					   jerr.column, jerr.text);
				sd->refused++;
				return -1;
			}
		}
		if (!json_is_object(local)) {
			sd_err_set(e, 400, "bad_json", NULL, "the policy must "
				   "be a JSON object");
			json_decref(local);
			sd->refused++;
			return -1;
		}
		ret = decode_merged(local, sd->shared->doc, &next, e);
		json_decref(local);
		if (ret != 0) {
			sd->refused++;
			return -1;
		}
	}
	ret = sd_apply(sd, next, if_generation, flags, diff_out, e);
	if (ret == 0 && !(flags & SD_APPLY_DRY_RUN) && sd->shared != NULL &&
	    sd->shared->refused_doc != NULL)
		sd->shared->retry_wanted = true;
	return ret;
}

/* ------------------------------------------------------------------------
 * shared.json
 */

static json_t *
entry_json(json_t *doc, int64_t rev, uint64_t gen)
{
	if (doc == NULL)
		return json_null();
	return json_pack("{s:I, s:I, s:O}", "revision", (json_int_t)rev,
			 "generation", (json_int_t)gen, "document", doc);
}

static int
write_file(struct sd_shared *sh, json_t *cur, json_t *prev)
{
	json_t *o = json_pack("{s:o, s:o}", "current", cur, "previous", prev);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int ret;

	json_decref(o);
	if (text == NULL)
		return -ENOMEM;
	ret = sd_state_write(sh->path, text);
	free(text);
	return ret;
}

/* Every shared item is in the state: the entry belongs to it. */
static bool
entry_fits(const struct sluiced *sd, json_t *doc)
{
	json_t *state = json_loads(sd->st.text, 0, NULL);
	bool fits = state != NULL;

	for (size_t l = 0; fits && l < N_LISTS; l++) {
		json_t *have = name_set(state, l), *it;
		char buf[SL_PREFIX_STRLEN];
		size_t i;

		json_array_foreach(json_object_get(doc, lists[l]), i, it) {
			const char *n = item_name(l, it, buf);

			if (n == NULL || json_object_get(have, n) == NULL)
				fits = false;
		}
		json_decref(have);
	}
	json_decref(state);
	return fits;
}

static void
load_file(struct sluiced *sd)
{
	struct sd_shared *sh = sd->shared;
	uint64_t gen = sd->st.policy->generation;
	json_error_t jerr;
	json_t *f = json_load_file(sh->path, 0, &jerr), *pick = NULL;
	struct sd_err e = { 0 };
	const char *which[] = { "current", "previous" };

	if (f == NULL) {
		if (access(sh->path, F_OK) == 0)
			SD_ERR("cluster: %s: %s; the shared state starts "
			       "empty", sh->path, jerr.text);
		return;
	}
	for (size_t i = 0; i < 2 && pick == NULL; i++) {
		json_t *en = json_object_get(f, which[i]);
		json_t *g = json_object_get(en, "generation");

		if (json_is_integer(g) && (uint64_t)json_integer_value(g) <= gen)
			pick = en;
	}
	json_t *doc = pick ? shape_check(json_object_get(pick, "document"),
					 &e) : NULL;

	if (doc != NULL && entry_fits(sd, doc)) {
		json_decref(sh->doc);
		sh->doc = doc;
		sh->revision = json_integer_value(json_object_get(pick,
								  "revision"));
		sh->generation = (uint64_t)json_integer_value(
			json_object_get(pick, "generation"));
		sh->seen = sh->revision;
		SD_INFO("cluster: shared state at revision %lld from %s",
			(long long)sh->revision, sh->path);
	} else {
		json_decref(doc);
		SD_ERR("cluster: %s does not match %s: the shared state starts "
		       "empty (its items stay, as local ones)", sh->path,
		       sd->st.path);
	}
	json_decref(f);
}

/* ------------------------------------------------------------------------
 * Applying what etcd holds
 */

static void waits_done(struct sluiced *sd, int64_t rev);

static void
refuse(struct sluiced *sd, json_t *doc, int64_t rev, struct sd_err *e)
{
	struct sd_shared *sh = sd->shared;

	json_decref(e->details);
	e->details = NULL;
	json_decref(sh->refused_doc);
	sh->refused_doc = doc;
	sh->refused_rev = rev;
	sh->err = *e;
	sh->refused++;
	SD_ERR("cluster: shared revision %lld refused on this node: %s%s%s; "
	       "revision %lld stays in force", (long long)rev, e->field,
	       e->field[0] ? ": " : "", e->message, (long long)sh->revision);
	waits_done(sd, rev);
}

/* Make doc (taken) at rev the shared part of the state, or refuse it. */
static void
try_apply(struct sluiced *sd, json_t *doc, int64_t rev)
{
	struct sd_shared *sh = sd->shared;
	struct sl_policy *next = NULL;
	struct sd_err e = { 0 };
	json_t *local = sd_local_doc(sd);
	uint64_t planned = sd->st.policy->generation + 1;
	int ret;

	if (local == NULL) {
		sd_err_set(&e, 503, "out_of_memory", NULL, "out of memory");
		refuse(sd, doc, rev, &e);
		return;
	}
	ret = decode_merged(local, doc, &next, &e);
	json_decref(local);
	if (ret != 0) {
		refuse(sd, doc, rev, &e);
		return;
	}
	ret = write_file(sh, entry_json(doc, rev, planned),
			 entry_json(sh->doc, sh->revision, sh->generation));
	if (ret != 0) {
		sl_policy_free(next);
		sd_err_set(&e, 507, "state_not_saved", NULL, "cannot write "
			   "%s: %s", sh->path, strerror(-ret));
		refuse(sd, doc, rev, &e);
		return;
	}
	if (sd_apply(sd, next, SD_GEN_ANY, 0, NULL, &e) != 0) {
		/* Back to the entry in force (best effort: the load
		 * checks the generation anyway). */
		write_file(sh, entry_json(sh->doc, sh->revision,
					  sh->generation), json_null());
		refuse(sd, doc, rev, &e);
		return;
	}
	if (sd->st.policy->generation != planned)	/* nothing changed */
		write_file(sh, entry_json(doc, rev, sd->st.policy->generation),
			   json_null());
	json_decref(sh->doc);
	sh->doc = doc;
	sh->revision = rev;
	sh->generation = sd->st.policy->generation;
	json_decref(sh->refused_doc);
	sh->refused_doc = NULL;
	sh->refused_rev = 0;
	memset(&sh->err, 0, sizeof(sh->err));
	sh->applied++;
	SD_INFO("cluster: shared revision %lld in force (generation %llu: "
		"%zu rules, %zu routes, %zu groups shared)", (long long)rev,
		(unsigned long long)sh->generation,
		sd_shared_count(sd, "rules"), sd_shared_count(sd, "routes"),
		sd_shared_count(sd, "groups"));
	waits_done(sd, rev);
}

void
sd_shared_received(struct sluiced *sd, const char *value, size_t len,
		   int64_t rev)
{
	struct sd_shared *sh = sd->shared;
	struct sd_err e = { 0 };
	json_error_t jerr;
	json_t *in, *doc;

	if (sh == NULL)
		return;
	if (rev > sh->seen || rev == 0)
		sh->seen = rev;
	/* The same document as in force (a new session, etcd back). */
	if (rev == sh->revision && sh->refused_doc == NULL) {
		waits_done(sd, rev);
		return;
	}
	in = value != NULL ? json_loadb(value, len, JSON_REJECT_DUPLICATES,
					&jerr) : empty_doc();
	if (in == NULL) {
		sd_err_set(&e, 422, "invalid", NULL, "the shared key does not "
			   "hold JSON: %s", jerr.text);
		refuse(sd, NULL, rev, &e);
		return;
	}
	doc = shape_check(in, &e);
	json_decref(in);
	if (doc == NULL) {
		refuse(sd, NULL, rev, &e);
		return;
	}
	try_apply(sd, doc, rev);
}

/* ------------------------------------------------------------------------
 * Writes waiting
 */

static void
wait_unlink(struct sd_shared *sh, struct sh_wait *w)
{
	for (struct sh_wait **p = &sh->waits; *p != NULL; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
}

/* Answer w's call (already filled) and forget w. */
static void
wait_finish(struct sh_wait *w)
{
	wait_unlink(w->sd->shared, w);
	json_decref(w->diff);
	sd_resume(w->c);
	free(w);
}

/* The answer of a write at w->rev that this node has handled (or not). */
static void
wait_reply(struct sh_wait *w, bool timed_out)
{
	struct sd_shared *sh = w->sd->shared;
	bool applied = sh->revision >= w->rev;
	json_t *out = json_pack("{s:I, s:I, s:b}", "revision",
		(json_int_t)w->rev, "generation",
		(json_int_t)w->sd->st.policy->generation, "applied", applied);

	if (applied) {
		json_object_set(out, "diff", w->diff);
	} else if (!timed_out && sh->refused_doc != NULL) {
		json_object_set_new(out, "error", json_pack("{s:s, s:s, s:s}",
			"code", sh->err.code ? sh->err.code : "invalid",
			"message", sh->err.message, "field", sh->err.field));
	} else {
		json_object_set_new(out, "reason", json_string("written to "
			"etcd; this node's watch has not delivered it yet"));
	}
	snprintf(w->c->etag, sizeof(w->c->etag), "%lld", (long long)w->rev);
	sd_reply(w->c, applied ? 200 : 202, out);
	wait_finish(w);
}

static void
waits_done(struct sluiced *sd, int64_t rev)
{
	struct sh_wait *w = sd->shared->waits, *next;

	for (; w != NULL; w = next) {
		next = w->next;
		if (w->txn == NULL && w->rev <= rev)
			wait_reply(w, false);
	}
}

static void
on_txn(void *ctx, json_t *reply, long http, const char *error)
{
	struct sh_wait *w = ctx;
	struct sd_shared *sh = w->sd->shared;

	w->txn = NULL;
	if (reply == NULL || json_object_get(reply, "error") != NULL) {
		sd_fail(w->c, 503, "etcd_unavailable", NULL, "etcd did not "
			"take the write (%s%s): it may or may not be in; read "
			"GET /v1/cluster/config", error ? error : "an error",
			http == 0 ? ", no answer" : "");
		wait_finish(w);
		return;
	}
	if (!json_is_true(json_object_get(reply, "succeeded"))) {
		json_t *rr = json_object_get(json_array_get(
			json_object_get(reply, "responses"), 0),
			"response_range");
		int64_t cur = sd_etcd_int(json_array_get(json_object_get(rr,
			"kvs"), 0), "mod_revision", 0);

		sd_fail(w->c, 409, "conflict", "revision", "the change is "
			"based on shared revision %lld but the shared "
			"configuration is at revision %lld: read it again and "
			"retry", (long long)w->rev, (long long)cur);
		wait_finish(w);
		return;
	}
	w->rev = sd_etcd_int(json_object_get(reply, "header"), "revision", 0);
	w->deadline_ms = now_ms() + SD_SHARED_WAIT_MS;
	SD_INFO("cluster: shared revision %lld written", (long long)w->rev);
	if (sh->seen >= w->rev)		/* the watch was first */
		wait_reply(w, false);
}

int
sd_shared_tick(struct sluiced *sd)
{
	struct sd_shared *sh = sd->shared;
	int64_t now = now_ms(), next = -1;
	struct sh_wait *w, *nw;

	if (sh == NULL)
		return -1;
	if (sh->retry_wanted) {
		sh->retry_wanted = false;
		if (sh->refused_doc != NULL) {
			json_t *doc = json_incref(sh->refused_doc);

			SD_INFO("cluster: a local change: trying shared "
				"revision %lld again", (long long)sh->refused_rev);
			try_apply(sd, doc, sh->refused_rev);
		}
	}
	for (w = sh->waits; w != NULL; w = nw) {
		nw = w->next;
		if (w->txn != NULL)
			continue;
		if (now >= w->deadline_ms)
			wait_reply(w, true);
		else if (next < 0 || w->deadline_ms - now < next)
			next = w->deadline_ms - now;
	}
	return (int)next;
}

/* ------------------------------------------------------------------------
 * Life cycle
 */

int
sd_shared_start(struct sluiced *sd)
{
	struct sd_shared *sh = calloc(1, sizeof(*sh));

	if (sh == NULL || asprintf(&sh->path, "%s/shared.json",
				   sd->opt.state_dir) < 0) {
		free(sh);
		return -ENOMEM;
	}
	sh->doc = empty_doc();
	sd->shared = sh;
	load_file(sd);
	return 0;
}

void
sd_shared_abort(struct sluiced *sd, const char *why)
{
	struct sd_shared *sh = sd->shared;

	while (sh != NULL && sh->waits != NULL) {
		struct sh_wait *w = sh->waits;

		sd_etcd_cancel(sd_cluster_etcd(sd), w->txn);
		sd_fail(w->c, 503, "etcd_unavailable", NULL, "%s", why);
		wait_finish(w);
	}
}

void
sd_shared_free(struct sluiced *sd)
{
	struct sd_shared *sh = sd->shared;

	if (sh == NULL)
		return;
	sd_shared_abort(sd, "sluiced is stopping");
	json_decref(sh->doc);
	json_decref(sh->refused_doc);
	free(sh->path);
	free(sh);
	sd->shared = NULL;
}

/* ------------------------------------------------------------------------
 * Status and metrics
 */

json_t *
sd_shared_status_json(const struct sluiced *sd)
{
	const struct sd_shared *sh = sd->shared;

	if (sh == NULL)
		return json_null();
	return json_pack("{s:I, s:I, s:I, s:{s:I, s:I, s:I}, s:o, s:I, s:I}",
		"revision", (json_int_t)sh->revision,
		"generation", (json_int_t)sh->generation,
		"latest_revision", (json_int_t)sh->seen,
		"items", "rules", (json_int_t)sd_shared_count(sd, "rules"),
		"routes", (json_int_t)sd_shared_count(sd, "routes"),
		"groups", (json_int_t)sd_shared_count(sd, "groups"),
		"error", sh->refused_doc != NULL || sh->refused_rev != 0 ||
			 sh->err.code != NULL ?
			json_pack("{s:I, s:s, s:s, s:s}", "revision",
				  (json_int_t)sh->refused_rev, "code",
				  sh->err.code ? sh->err.code : "invalid",
				  "message", sh->err.message, "field",
				  sh->err.field) : json_null(),
		"applied", (json_int_t)sh->applied,
		"refused", (json_int_t)sh->refused);
}

int64_t
sd_shared_revision(const struct sluiced *sd)
{
	return sd->shared ? sd->shared->revision : 0;
}

uint64_t
sd_shared_applied(const struct sluiced *sd)
{
	return sd->shared ? sd->shared->applied : 0;
}

uint64_t
sd_shared_refused(const struct sluiced *sd)
{
	return sd->shared ? sd->shared->refused : 0;
}

bool
sd_shared_in_error(const struct sluiced *sd)
{
	return sd->shared != NULL && sd->shared->err.code != NULL;
}

/* ------------------------------------------------------------------------
 * The API
 */

void
sd_shared_get(struct sd_call *c)
{
	const struct sd_shared *sh = c->sd->shared;
	json_t *out = json_deep_copy(sh ? sh->doc : NULL);

	if (out == NULL)
		out = empty_doc();
	json_object_set_new(out, "revision",
			    json_integer(sh ? sh->revision : 0));
	json_object_set_new(out, "generation", json_integer(
		(json_int_t)c->sd->st.policy->generation));
	json_object_set_new(out, "mode", json_string(sh ? "etcd" : "single"));
	json_object_set_new(out, "status", sd_shared_status_json(c->sd));
	snprintf(c->etag, sizeof(c->etag), "%lld",
		 (long long)(sh ? sh->revision : 0));
	sd_reply(c, 200, out);
}

/* If-Match "R" or ?revision=R; -2 when neither; -1 after failing c. */
static int64_t
based_on(struct sd_call *c)
{
	const char *q = sd_query(c, "revision");
	uint64_t g = SD_GEN_ANY;
	char *end;

	if (sd_if_generation(c, &g) != 0)
		return -1;
	if (q != NULL) {
		long long v = strtoll(q, &end, 10);

		if (*q == '\0' || *end != '\0' || v < 0) {
			sd_fail(c, 400, "bad_request", "revision", "revision "
				"must be a number");
			return -1;
		}
		if (g != SD_GEN_ANY && g != (uint64_t)v) {
			sd_fail(c, 400, "bad_request", "revision", "If-Match "
				"and ?revision= disagree");
			return -1;
		}
		g = (uint64_t)v;
	}
	return g == SD_GEN_ANY ? -2 : (int64_t)g;
}

static json_t *
b64_json(const char *s)
{
	char *b = sd_b64(s, strlen(s));
	json_t *j = b ? json_string(b) : NULL;

	free(b);
	return j;
}

void
sd_shared_put(struct sd_call *c)
{
	struct sluiced *sd = c->sd;
	struct sd_shared *sh = sd->shared;
	struct sl_policy *next = NULL;
	struct sd_err e = { 0 };
	json_error_t jerr;
	json_t *in, *doc = NULL, *local = NULL, *diff = NULL;
	int64_t base;
	bool dry_run;
	char *text = NULL, rev[32];
	struct sh_wait *w;

	if (sh == NULL) {
		sd_fail(c, 409, "not_clustered", NULL, "this node is not in "
			"a cluster (--etcd): there is no shared configuration "
			"to write");
		return;
	}
	if (sd_query_flag(c, "dry_run", &dry_run) != 0)
		return;
	base = based_on(c);
	if (base == -1)
		return;
	if (c->body_yaml) {
		sd_fail(c, 415, "unsupported_media_type", "Content-Type",
			"the shared configuration is JSON");
		return;
	}
	in = c->body_len ? json_loadb(c->body, c->body_len,
				      JSON_REJECT_DUPLICATES, &jerr) : NULL;
	if (in == NULL) {
		if (c->body_len == 0)
			sd_fail(c, 400, "bad_json", NULL, "PUT /v1/cluster/"
				"config needs the shared document as its body");
		else
			sd_fail(c, 400, "bad_json", NULL, "line %d column %d: "
				"%s", jerr.line, jerr.column, jerr.text);
		return;
	}
	doc = shape_check(in, &e);
	json_decref(in);
	if (doc == NULL)
		goto refused;
	/* Judged here first, against this node's local document: a write
	 * this node would refuse does not go to etcd. */
	local = sd_local_doc(sd);
	if (local == NULL) {
		sd_err_set(&e, 503, "out_of_memory", NULL, "out of memory");
		goto refused;
	}
	if (decode_merged(local, doc, &next, &e) != 0 ||
	    sd_apply(sd, next, SD_GEN_ANY, SD_APPLY_DRY_RUN, &diff, &e) != 0)
		goto refused;
	if (dry_run) {
		snprintf(c->etag, sizeof(c->etag), "%lld",
			 (long long)sh->seen);
		sd_reply(c, 200, json_pack("{s:b, s:I, s:o}", "dry_run", 1,
			 "revision", (json_int_t)sh->seen, "diff", diff));
		goto out;
	}
	if (!sd_cluster_ready(sd)) {
		sd_fail(c, 503, "etcd_unavailable", NULL, "etcd is not "
			"reachable from this node (%s): the shared "
			"configuration cannot change now; revision %lld stays",
			sd_cluster_degraded(sd) ? "degraded" : "connecting",
			(long long)sh->revision);
		json_decref(diff);
		goto out;
	}
	/* Without If-Match the write is based on what this node has seen. */
	if (base == -2)
		base = sh->seen;
	text = json_dumps(doc, JSON_COMPACT);
	w = calloc(1, sizeof(*w));
	snprintf(rev, sizeof(rev), "%lld", (long long)base);
	if (text == NULL || w == NULL) {
		free(w);
		json_decref(diff);
		sd_fail(c, 503, "out_of_memory", NULL, "out of memory");
		goto out;
	}
	const char *key = sd_cluster_shared_key(sd);
	json_t *txn = json_pack("{s:[{s:o, s:s, s:s, s:s}], s:[{s:{s:o, s:o}}],"
				" s:[{s:{s:o}}]}",
		"compare", "key", b64_json(key), "target", "MOD",
		"result", "EQUAL", "mod_revision", rev,
		"success", "request_put", "key", b64_json(key),
		"value", b64_json(text),
		"failure", "request_range", "key", b64_json(key));

	*w = (struct sh_wait){ .sd = sd, .c = c, .rev = base, .diff = diff,
			       .deadline_ms = -1 };
	w->txn = txn ? sd_etcd_call(sd_cluster_etcd(sd), "/v3/kv/txn", txn,
				    sd_cluster_op_timeout(sd), on_txn, w)
		     : NULL;
	if (w->txn == NULL) {
		free(w);
		json_decref(diff);
		sd_fail(c, 503, "out_of_memory", NULL, "out of memory");
		goto out;
	}
	w->next = sh->waits;
	sh->waits = w;
	sd_suspend(c);
	goto out;
refused:
	sd->refused++;
	sd_fail_err(c, &e);
out:
	free(text);
	json_decref(local);
	json_decref(doc);
}

void
sd_effective_get(struct sd_call *c)
{
	c->status = 200;
	c->content_type = "application/json";
	c->text_len = strlen(c->sd->st.text);
	c->text = malloc(c->text_len + 2);
	if (c->text == NULL) {
		sd_fail(c, 503, "out_of_memory", NULL, "out of memory");
		return;
	}
	memcpy(c->text, c->sd->st.text, c->text_len);
	c->text[c->text_len++] = '\n';
}
