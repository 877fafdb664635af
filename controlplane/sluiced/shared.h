/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The cluster's shared desired state (docs/cluster.md, "Shared desired
 * state").  One etcd key, PREFIX/config/shared, holds a JSON document
 * {"rules": [...], "routes": [...], "groups": [...]}; its mod_revision is
 * the shared revision.  A node's desired state (sd->st: what sd_apply()
 * validates, persists and pushes) is its local document with the shared
 * items merged in: shared rules first, then the local ones; shared routes
 * and groups first too (their order means nothing).  A local item may not
 * share a name with a shared one: the merged document is then invalid.
 *
 * The local document is never stored on its own: it is the state less the
 * items named in the shared document in force, so a single node (no shared
 * items) works exactly as before.  shared.json beside state.json keeps the
 * shared document in force (and the one before it) so a restart while etcd
 * is away keeps it.  Everything runs on the event loop's thread.
 */
#ifndef SLUICED_SHARED_H
#define SLUICED_SHARED_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct sluiced;
struct sd_err;
struct sd_call;

/* With the cluster started: read shared.json (clustered nodes only). */
int sd_shared_start(struct sluiced *sd);
/* Answer every waiting write with 503 and free; before the API stops. */
void sd_shared_abort(struct sluiced *sd, const char *why);
void sd_shared_free(struct sluiced *sd);
/* Timers (writes waiting for the watch, a retry); ms to the next or -1. */
int sd_shared_tick(struct sluiced *sd);

/*
 * What etcd says the shared key holds (the session's read, or a watch
 * event): value (NUL-terminated, len bytes) at mod_revision rev, or
 * value NULL when the key is absent or deleted (an empty document).
 */
void sd_shared_received(struct sluiced *sd, const char *value, size_t len,
			int64_t rev);

/* Items of list ("rules", "routes", "groups") in the shared document in
 * force: the local document's indexes are offset by this in the state. */
size_t sd_shared_count(const struct sluiced *sd, const char *list);

/* The local document (the state less the shared items): a JSON object to
 * json_decref(), or NULL (out of memory). */
json_t *sd_local_doc(const struct sluiced *sd);

/*
 * The one path of every local change (PUT /v1/config, the item writes,
 * SIGHUP): the local document text (JSON, or YAML when yaml), merged with
 * the shared items, decoded and handed to sd_apply().  positions: line and
 * column of errors mean something to the caller (only when there is
 * nothing to merge).  Returns 0 or -1 with e set.
 */
int sd_apply_local(struct sluiced *sd, const char *text, size_t len,
		   bool yaml, bool positions, uint64_t if_generation,
		   unsigned int flags, json_t **diff_out, struct sd_err *e);

/* For /v1/status (under cluster) and /metrics. */
json_t *sd_shared_status_json(const struct sluiced *sd);
int64_t sd_shared_revision(const struct sluiced *sd);
uint64_t sd_shared_applied(const struct sluiced *sd);
uint64_t sd_shared_refused(const struct sluiced *sd);
bool sd_shared_in_error(const struct sluiced *sd);

/* The API resources: GET and PUT /v1/cluster/config, GET
 * /v1/config/effective. */
void sd_shared_get(struct sd_call *c);
void sd_shared_put(struct sd_call *c);
void sd_effective_get(struct sd_call *c);

#endif /* SLUICED_SHARED_H */
