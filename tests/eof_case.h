/* eof_case.h: a conformance case for every backend's tests, written against the task API: a
 * writer task puts EOF_CASE_BYTES bytes in a pipe and closes its end; the root loops on
 * cb_read(4096) until it returns 0. Every backend must hand back the bytes, then 0 (EOF).
 * aloop used to lose the pipe's hang-up: the short read of the data cleared its readiness,
 * the edge-triggered hang-up had come in the same event, and the next read parked for good.
 *
 * Not for process backends as it stands: the root keeps its copy of the write end, so the
 * pipe never reaches EOF there unless the backend closes the parent's copy of fds handed to
 * a task. */
#ifndef EOF_CASE_H
#define EOF_CASE_H

#include <string.h>
#include <unistd.h>

#include "task.h"

enum { EOF_CASE_BYTES = 12, EOF_CASE_READ = 4096 };
static const char eof_case_msg[EOF_CASE_BYTES + 1] = "twelve bytes";

static inline uint64_t eof_case_writer(void *arg, size_t len)
{
	(void)len;
	int fd;
	memcpy(&fd, arg, sizeof fd);
	ssize_t n = cb_write(fd, eof_case_msg, EOF_CASE_BYTES);
	cb_close(fd);
	return n == EOF_CASE_BYTES;
}

/* The outcome as one number: bytes read << 16 | read calls << 8 | content and writer ok. */
static inline uint64_t eof_case_result(uint64_t bytes, uint64_t calls, int ok)
{
	return bytes << 16 | calls << 8 | (uint64_t)(ok != 0);
}

/* Expected: every byte, in two calls (the data, then 0), intact. */
#define EOF_CASE_WANT eof_case_result(EOF_CASE_BYTES, 2, 1)

/* Root (or task) of the case; the argument is unused. */
static inline uint64_t eof_case_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	int p[2];
	if (pipe(p) != 0)
		return 0;
	cb_task *w = cb_spawn(eof_case_writer, &p[1], sizeof p[1]);
	char buf[EOF_CASE_READ], got[EOF_CASE_BYTES];
	uint64_t bytes = 0, calls = 0;
	int ok = 1;
	ssize_t n;
	while ((n = cb_read(p[0], buf, sizeof buf)) > 0) {
		calls++;
		if (bytes + (uint64_t)n > EOF_CASE_BYTES) {
			ok = 0;
			break;
		}
		memcpy(got + bytes, buf, (size_t)n);
		bytes += (uint64_t)n;
	}
	calls += n == 0;
	ok &= n == 0 && bytes == EOF_CASE_BYTES && memcmp(got, eof_case_msg, EOF_CASE_BYTES) == 0;
	ok &= cb_join(w) == 1;
	cb_close(p[0]);
	return eof_case_result(bytes, calls, ok);
}

#endif
