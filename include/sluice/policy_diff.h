/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What applying a candidate policy would change, as people and `sluicectl
 * apply --dry-run` read it: the DIFF object of docs/api.md (PUT
 * /v1/config?dry_run=1), and the rules of a policy that can never match.
 * Control-plane code only: nothing here runs per packet.
 */
#ifndef SLUICE_POLICY_DIFF_H
#define SLUICE_POLICY_DIFF_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sluice/policy.h"

/* sl_policy_shadowed(): the rule is not shadowed. */
#define SL_RULE_NONE SIZE_MAX

/*
 * The semantic difference between the policy in force (old_p) and a
 * candidate (new_p), both valid; either may be NULL, which stands for the
 * empty policy of sl_policy_new() (every default set, no items).
 *
 *   {"rules": {"added": [id], "removed": [id], "changed": [id],
 *              "moved": [id], "shadowed": [{"rule": id, "by": id}]},
 *    "default_changed": bool,
 *    "routes": {"added": [prefix], "removed": [prefix], "changed": [prefix]},
 *    "groups": {"added": [name], "removed": [name], "changed": [name]},
 *    "ports":  {"added": [name], "removed": [name], "changed": [name]},
 *    "settings_changed": bool}
 *
 * Items are keyed by rule id, route prefix ("10.0.0.0/8"), group and port
 * name.  "added" and "changed" list items in the new policy's order,
 * "removed" in the old one's.  "changed": the key is in both and some other
 * field differs (a rule's match, action or comment; anything in a route,
 * group or port).  "moved": rules in both and unchanged whose order
 * relative to the other such rules changed; the fewest are named, those
 * outside a longest run of them kept in the old order (so a rule taken from
 * the end and put first is the one that moved, not all the others).
 * "shadowed": sl_policy_shadowed() of new_p, in rule order.  The policy's
 * generation is not compared.
 *
 * Takes O(r log r + g + p + t + s) time for r rules, g groups, p ports,
 * t routes and s pairs of rules the shadow check visits (at most r^2/2;
 * see sl_policy_shadowed()): items are paired through a hash index.
 * Returns a new reference, or NULL with errno ENOMEM (or E2BIG: a list of
 * 2^32 items or more).
 */
json_t *sl_policy_diff(const struct sl_policy *old_p,
		       const struct sl_policy *new_p);

/*
 * The shadowed rules of a valid policy: by[j] is the index of the first
 * rule i < j that matches every packet rule j matches, whatever the
 * actions, so j can never match; SL_RULE_NONE where there is none.  by has
 * p->n_rules entries.
 *
 * Decided on the compiled matches (sl_match_compile()), the numbers both
 * datapaths match on, field by field: i has no family or j's (a rule with
 * an IPv4 prefix or proto icmp never matches IPv6), i's prefixes contain
 * j's, i's protocol is absent or j's, i's port ranges contain j's, i's
 * in_port and vlan are absent or j's, i's TCP flag condition is absent or
 * implied by j's (i's mask within j's, and the same bits there), i's ct
 * states include j's, and i has no payload or exactly j's (same kind,
 * flags and pattern).  Conservative: a reported rule can never match, but
 * some that cannot are missed: a rule covered only by several earlier rules
 * together, or by a different pattern that happens to match the same
 * payloads.  A rule that does not compile (an in_port naming no port) is
 * neither shadowed nor shadows.
 *
 * Only earlier rules of j's protocol and rules without a protocol are
 * tested, in rule order up to the first hit: at most j tests for rule j.
 * Returns 0, -ENOMEM, -E2BIG (2^32 rules or more).
 */
int sl_policy_shadowed(const struct sl_policy *p, size_t *by);

#endif /* SLUICE_POLICY_DIFF_H */
