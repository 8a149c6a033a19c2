/* mp_io.c: whole-buffer pipe I/O for the mp model (short counts and EINTR handled once). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "mp_int.h"

int mp_write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return MP_ESYS;
		}
		p += w;
		n -= (size_t)w;
	}
	return MP_OK;
}

int mp_writev_all(int fd, struct iovec *iov, int cnt)
{
	while (cnt > 0) {
		ssize_t w = writev(fd, iov, cnt > IOV_MAX ? IOV_MAX : cnt);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return MP_ESYS;
		}
		while (cnt > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return MP_OK;
}

int mp_read_all(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return MP_ESYS;
		}
		if (r == 0)
			return got ? MP_EPROTO : MP_ECLOSED;
		got += (size_t)r;
	}
	return MP_OK;
}

int mp_read_frame(int fd, mp_frame *f, uint8_t **payload)
{
	uint8_t hdr[MP_FRAME_HDR];
	int rc = mp_read_all(fd, hdr, sizeof hdr);
	if (rc != MP_OK)
		return rc;
	mp_frame h;
	if (mp_frame_parse(hdr, sizeof hdr, &h) < 0)
		return MP_EPROTO;
	uint32_t len = mp_get32(hdr + 4);
	uint8_t *b = malloc(len ? len : 1);
	if (!b)
		return MP_ESYS;
	rc = mp_read_all(fd, b, len);
	if (rc != MP_OK) {
		free(b);
		return rc == MP_ECLOSED ? MP_EPROTO : rc; /* EOF after a header: truncated */
	}
	f->type = hdr[3];
	f->len = len;
	f->payload = b;
	if (f->type == MP_F_CLOSE)
		for (uint32_t i = 0; i < len; i++)
			if (b[i]) {
				free(b);
				return MP_EPROTO;
			}
	*payload = b;
	return MP_OK;
}

uint64_t mp_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int mp_cloexec(int fd, int on)
{
	int fl = fcntl(fd, F_GETFD);
	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFD, on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC);
}

const char *mp_strerror(int err)
{
	switch (err) {
	case MP_OK: return "ok";
	case MP_EBROKEN: return "broken pool: a worker process terminated abruptly";
	case MP_EPROTO: return "malformed or truncated frame";
	case MP_ECLOSED: return "closed";
	case MP_EEMPTY: return "empty";
	case MP_ESYS: return "system call failed";
	case MP_EBADFN: return "function token does not name code of this program";
	case MP_EDIED: return "process died without sending its result";
	default: return "unknown mp error";
	}
}
