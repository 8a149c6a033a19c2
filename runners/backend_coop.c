/* backend_coop.c: task-API glue shared by the aloop and uv backends (see coop_ops.h). */
#include "coop/coop.h"
#include "coop_ops.h"

_Static_assert((int)COOP_OK == (int)CB_OK && (int)COOP_CLOSED == (int)CB_CLOSED &&
		       (int)COOP_EMPTY == (int)CB_EMPTY,
	       "channel results are passed through");

cb_task *cb_coop_spawn(cb_fn fn, const void *a, size_t l) { return (cb_task *)coop_spawn(fn, a, l); }
uint64_t cb_coop_join(cb_task *t) { return coop_join((coop_task *)t); }
cb_chan *cb_coop_chan_make(size_t e, size_t c) { return (cb_chan *)coop_chan_make(e, c); }
int cb_coop_chan_recv(cb_chan *c, void *e) { return coop_chan_recv((coop_chan *)c, e); }
int cb_coop_chan_try_recv(cb_chan *c, void *e) { return coop_chan_try_recv((coop_chan *)c, e); }
void cb_coop_chan_close(cb_chan *c) { coop_chan_close((coop_chan *)c); }
void cb_coop_chan_free(cb_chan *c) { coop_chan_free((coop_chan *)c); }

int cb_coop_chan_send(cb_chan *c, const void *e) { return coop_chan_send((coop_chan *)c, e); }

int64_t cb_coop_max_tasks(const cb_backend_cfg *cfg, const char **why)
{
	(void)cfg;
	(void)why;
	return 0; /* no fixed limit: a parked task costs its live stack bytes on the heap */
}

void cb_coop_overflow(const char *msg)
{
	cb_abort("crash", "%s", msg);
}
