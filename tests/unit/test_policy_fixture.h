/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Finding and reading the policy test fixtures (tests/unit/fixtures/policy)
 * from wherever the test binary runs.
 */
#ifndef SLUICE_TEST_POLICY_FIXTURE_H
#define SLUICE_TEST_POLICY_FIXTURE_H

#include <stddef.h>

/*
 * Path of a file under the source tree ("tests/unit/fixtures/policy/x" for
 * policy_source_path("tests/unit/fixtures/policy/x")).  $SLUICE_SOURCE_ROOT
 * wins; otherwise the root is found from this file's compile-time path,
 * relative to the test binary (meson builds the tests in the build root).
 * Returns a static buffer.
 */
const char *policy_source_path(const char *rel);

/* policy_source_path("tests/unit/fixtures/policy/" name) */
const char *policy_fixture_path(const char *name);

/* The file's bytes plus a NUL, malloc'd; aborts the test run on failure. */
char *policy_fixture_read(const char *name, size_t *len);

#endif
