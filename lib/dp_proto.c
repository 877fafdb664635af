/* SPDX-License-Identifier: BSD-3-Clause */
/* Framing of the dataplane protocol (sluice/dp_proto.h). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include "sluice/dp_proto.h"

void
sl_dp_reader_reset(struct sl_dp_reader *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

/* One read() into dst; 1: got bytes, 0: EOF, 2: nothing now, -errno. */
static int
read_some(int fd, void *dst, size_t want, size_t *got)
{
	for (;;) {
		ssize_t n = read(fd, dst, want);

		if (n > 0) {
			*got = (size_t)n;
			return 1;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 2;
		return -errno;
	}
}

int
sl_dp_reader_fill(struct sl_dp_reader *r, int fd)
{
	while (!r->done) {
		size_t got = 0;
		int rc;

		if (r->hdr_have < sizeof(r->hdr)) {
			rc = read_some(fd, r->hdr + r->hdr_have,
				       sizeof(r->hdr) - r->hdr_have, &got);
			if (rc != 1)
				return rc == 2 ? 1 : rc;
			r->hdr_have += got;
			if (r->hdr_have < sizeof(r->hdr))
				continue;
			uint32_t be;

			memcpy(&be, r->hdr, sizeof(be));
			r->len = ntohl(be);
			if (r->len > SL_DP_FRAME_MAX)
				return -EMSGSIZE;
			r->buf = malloc(r->len + 1);
			if (r->buf == NULL)
				return -ENOMEM;
			r->have = 0;
		} else {
			rc = read_some(fd, r->buf + r->have, r->len - r->have,
				       &got);
			if (rc != 1)
				return rc == 2 ? 1 : rc;
			r->have += got;
		}
		if (r->hdr_have == sizeof(r->hdr) && r->have == r->len) {
			r->buf[r->len] = '\0';
			r->done = 1;
		}
	}
	return 1;
}

int
sl_dp_reader_next(struct sl_dp_reader *r, char **frame, size_t *len)
{
	if (!r->done)
		return 0;
	*frame = r->buf;
	*len = r->len;
	r->buf = NULL;
	sl_dp_reader_reset(r);
	return 1;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write all of buf, polling while the socket is full, until deadline. */
static int
write_all(int fd, const uint8_t *buf, size_t len, int64_t deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		int wait = -1;

		if (deadline >= 0) {
			int64_t left = deadline - now_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			wait = (int)left;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };

		if (poll(&pfd, 1, wait) < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

int
sl_dp_write_frame(int fd, const void *buf, size_t len, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	uint32_t be;
	int rc;

	if (len > SL_DP_FRAME_MAX)
		return -EMSGSIZE;
	be = htonl((uint32_t)len);
	rc = write_all(fd, (const uint8_t *)&be, sizeof(be), deadline);
	if (rc == 0)
		rc = write_all(fd, buf, len, deadline);
	return rc;
}

int
sl_dp_send(int fd, const json_t *msg, const void *body, size_t body_len,
	   int timeout_ms)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	int rc;

	if (text == NULL)
		return -ENOMEM;
	rc = sl_dp_write_frame(fd, text, strlen(text), timeout_ms);
	free(text);
	if (rc == 0 && body != NULL)
		rc = sl_dp_write_frame(fd, body, body_len, timeout_ms);
	return rc;
}
