/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pcapng in memory (sluice/pcapng.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/pcapng.h"

#define PCAPNG_SHB		0x0A0D0D0Au
#define PCAPNG_IDB		0x00000001u
#define PCAPNG_EPB		0x00000006u
#define PCAPNG_BOM		0x1A2B3C4Du
#define PCAPNG_LINKTYPE_ETHERNET 1
#define PCAPNG_OPT_END		0
#define PCAPNG_OPT_IF_NAME	2
#define PCAPNG_OPT_IF_TSRESOL	9
#define PCAPNG_OPT_SHB_USERAPPL	4

/* n zeroed bytes at the end; NULL (and err) when out of memory. */
static uint8_t *
pb_room(struct sl_pcapng *b, size_t n)
{
	uint8_t *at;

	if (b->err != 0)
		return NULL;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *p;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->err = -ENOMEM;
			return NULL;
		}
		b->p = p;
		b->cap = cap;
	}
	at = b->p + b->len;
	memset(at, 0, n);
	b->len += n;
	return at;
}

static void
pb_put(struct sl_pcapng *b, const void *src, size_t n)
{
	uint8_t *at = pb_room(b, n);

	if (at != NULL && n > 0)
		memcpy(at, src, n);
}

static void
pb_u16(struct sl_pcapng *b, uint16_t v)
{
	pb_put(b, &v, sizeof(v));
}

static void
pb_u32(struct sl_pcapng *b, uint32_t v)
{
	pb_put(b, &v, sizeof(v));
}

/* Zero bytes up to the next 32-bit boundary after n bytes. */
static void
pb_pad(struct sl_pcapng *b, size_t n)
{
	pb_room(b, (4 - n % 4) % 4);
}

/* One option: code, length, value padded to 32 bits. */
static void
pb_opt(struct sl_pcapng *b, uint16_t code, const void *v, uint16_t len)
{
	pb_u16(b, code);
	pb_u16(b, len);
	pb_put(b, v, len);
	pb_pad(b, len);
}

/* Open a block: its type and a length filled in by pb_end_block. */
static size_t
pb_block(struct sl_pcapng *b, uint32_t type)
{
	size_t start = b->len;

	pb_u32(b, type);
	pb_u32(b, 0);
	return start;
}

/* Close the block that starts at start: its length at both ends. */
static void
pb_end_block(struct sl_pcapng *b, size_t start)
{
	uint32_t total = (uint32_t)(b->len - start + 4);

	pb_u32(b, total);
	if (b->err == 0)
		memcpy(b->p + start + 4, &total, sizeof(total));
}

void
sl_pcapng_head(struct sl_pcapng *b, const char *appl, const char *ifname,
	       uint32_t snaplen)
{
	uint8_t tsresol = 9;	/* timestamps in nanoseconds */
	size_t start;

	start = pb_block(b, PCAPNG_SHB);
	pb_u32(b, PCAPNG_BOM);
	pb_u16(b, 1);		/* version 1.0 */
	pb_u16(b, 0);
	pb_u32(b, UINT32_MAX);	/* section length: -1, not given */
	pb_u32(b, UINT32_MAX);
	pb_opt(b, PCAPNG_OPT_SHB_USERAPPL, appl, (uint16_t)strlen(appl));
	pb_opt(b, PCAPNG_OPT_END, NULL, 0);
	pb_end_block(b, start);

	start = pb_block(b, PCAPNG_IDB);
	pb_u16(b, PCAPNG_LINKTYPE_ETHERNET);
	pb_u16(b, 0);		/* reserved */
	pb_u32(b, snaplen);
	pb_opt(b, PCAPNG_OPT_IF_NAME, ifname, (uint16_t)strlen(ifname));
	pb_opt(b, PCAPNG_OPT_IF_TSRESOL, &tsresol, 1);
	pb_opt(b, PCAPNG_OPT_END, NULL, 0);
	pb_end_block(b, start);
}

void
sl_pcapng_packet(struct sl_pcapng *b, uint64_t ts_ns, const void *data,
		 uint32_t cap_len, uint32_t orig_len)
{
	size_t start = pb_block(b, PCAPNG_EPB);

	pb_u32(b, 0);
	pb_u32(b, (uint32_t)(ts_ns >> 32));
	pb_u32(b, (uint32_t)ts_ns);
	pb_u32(b, cap_len);
	pb_u32(b, orig_len);
	pb_put(b, data, cap_len);
	pb_pad(b, cap_len);
	pb_end_block(b, start);
}
