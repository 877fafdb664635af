/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "sluice/drop_reason.h"

static const char *const drop_names[SL_DROP_MAX] = {
#define SL_DROP_NAME_(name, str, desc) [SL_DROP_##name] = str,
	SL_DROP_REASONS(SL_DROP_NAME_)
#undef SL_DROP_NAME_
};

static const char *const drop_descs[SL_DROP_MAX] = {
#define SL_DROP_DESC_(name, str, desc) [SL_DROP_##name] = desc,
	SL_DROP_REASONS(SL_DROP_DESC_)
#undef SL_DROP_DESC_
};

const char *
sl_drop_reason_name(unsigned int reason)
{
	return reason < SL_DROP_MAX ? drop_names[reason] : "unknown";
}

const char *
sl_drop_reason_desc(unsigned int reason)
{
	return reason < SL_DROP_MAX ? drop_descs[reason] : "unknown reason";
}

int
sl_drop_reason_from_name(const char *name)
{
	for (unsigned int i = 0; i < SL_DROP_MAX; i++)
		if (strcmp(drop_names[i], name) == 0)
			return (int)i;
	return -1;
}
