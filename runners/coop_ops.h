/* coop_ops.h: the task-API operations that the two event-loop backends (aloop, uv) share:
 * spawn, join and channels are coop tasks and coop channels in both (models/coop); only
 * the loop, sleep, yield and I/O differ. */
#ifndef CB_COOP_OPS_H
#define CB_COOP_OPS_H

#include "task.h"

cb_task *cb_coop_spawn(cb_fn fn, const void *arg, size_t len);
uint64_t cb_coop_join(cb_task *t);
cb_chan *cb_coop_chan_make(size_t elem, size_t cap);
int cb_coop_chan_send(cb_chan *c, const void *elem);
int cb_coop_chan_recv(cb_chan *c, void *elem);
int cb_coop_chan_try_recv(cb_chan *c, void *elem);
void cb_coop_chan_close(cb_chan *c);
void cb_coop_chan_free(cb_chan *c);
int64_t cb_coop_max_tasks(const cb_backend_cfg *cfg, const char **why);
/* A task overflowed the run stack (called from the fault handler): a crash row naming it. */
_Noreturn void cb_coop_overflow(const char *msg);

#define CB_COOP_OPS                                                                          \
	.concurrent = 1, .max_tasks = cb_coop_max_tasks, .spawn = cb_coop_spawn,              \
	.join = cb_coop_join, .chan_make = cb_coop_chan_make, .chan_send = cb_coop_chan_send, \
	.chan_recv = cb_coop_chan_recv, .chan_try_recv = cb_coop_chan_try_recv,               \
	.chan_close = cb_coop_chan_close, .chan_free = cb_coop_chan_free

#endif
