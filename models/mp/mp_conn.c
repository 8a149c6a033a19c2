/* mp_conn.c: Pipe — a connection carrying whole messages as MSG frames, like CPython's
 * Connection.send_bytes/recv_bytes: simplex over a pipe, duplex over a socket pair. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mp_int.h"

int mp_pipe(int duplex, mp_conn *a, mp_conn *b)
{
	int fds[2];
	int rc = duplex ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds)
	                : pipe2(fds, O_CLOEXEC);
	if (rc < 0)
		return MP_ESYS;
	*a = (mp_conn){.rfd = fds[0], .wfd = duplex ? fds[0] : -1};
	*b = (mp_conn){.rfd = duplex ? fds[1] : -1, .wfd = fds[1]};
	return MP_OK;
}

int mp_conn_send(mp_conn *c, const void *data, size_t len)
{
	if (len > MP_FRAME_MAX)
		return MP_EPROTO;
	uint8_t hdr[MP_FRAME_HDR];
	mp_frame_hdr_put(hdr, MP_F_MSG, (uint32_t)len);
	struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)data, len}};
	return mp_writev_all(c->wfd, iov, len ? 2 : 1);
}

int mp_conn_recv(mp_conn *c, void **out, size_t *len)
{
	mp_frame f;
	uint8_t *payload;
	int rc = mp_read_frame(c->rfd, &f, &payload);
	if (rc != MP_OK)
		return rc;
	if (f.type != MP_F_MSG) {
		free(payload);
		return MP_EPROTO;
	}
	*out = payload;
	*len = f.len;
	return MP_OK;
}

void mp_conn_close(mp_conn *c)
{
	if (c->rfd >= 0)
		close(c->rfd);
	if (c->wfd >= 0 && c->wfd != c->rfd)
		close(c->wfd);
	c->rfd = c->wfd = -1;
}
