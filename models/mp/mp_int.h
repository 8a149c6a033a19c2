/* mp_int.h: what the files of the mp model share and nobody else sees. */
#ifndef MP_INT_H
#define MP_INT_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "mp.h"
#include "mp_frame.h"

/* mp_io.c: whole reads and writes, retried on EINTR and short counts. */
int mp_write_all(int fd, const void *buf, size_t n);       /* MP_OK or MP_ESYS */
int mp_writev_all(int fd, struct iovec *iov, int cnt);     /* consumes iov */
/* MP_OK, MP_ECLOSED (EOF before the first byte), MP_EPROTO (EOF inside), MP_ESYS. */
int mp_read_all(int fd, void *buf, size_t n);
/* Read one whole frame (header, then payload into a malloc'd buffer *payload). */
int mp_read_frame(int fd, mp_frame *f, uint8_t **payload);
uint64_t mp_now_ns(void);
int mp_cloexec(int fd, int on);

/* mp_spawn.c / mp_process.c */
extern mp_hooks mp_hooks_now;
void mp_process_delta(int delta);
uint64_t mp_code_token(const void *code);
const void *mp_code_from_token(uint64_t tok);
/* Start a child running fn(arg) and _exit. result_fd: where the child writes fn's result
 * as a VALUE frame (-1: nowhere); keep: fds the child needs (spawn clears their
 * close-on-exec flag; fork keeps everything it inherits). child_close: fds of the parent's
 * side to close in a forked child. Returns the pid or -1 (errno set). */
pid_t mp_start_child(enum mp_start how, mp_fn fn, const void *arg, size_t len,
                     int result_fd, const int *keep, int nkeep,
                     const int *child_close, int nclose);
void mp_child_setup(pid_t parent); /* death signal, inherited state reset */
/* Reap one child, reporting it to the hook. Returns waitpid's status. */
int mp_reap(pid_t pid);
/* The fd this process writes its own result to (closed in its forked children). */
void mp_process_set_result_fd(int fd);

/* mp_pool.c / mp_queue.c: per-process state a forked child must drop. */
void mp_pool_atfork_child(void);
void mp_queue_spawn_inherit(void); /* in a child about to exec: keep the queues' fds */
void mp_arena_count_process(int delta);
/* mp_worker.c: a pool worker's whole life; arg = {task pipe read end, result write end}. */
uint64_t mp_worker_main(void *arg, size_t len);

#endif
