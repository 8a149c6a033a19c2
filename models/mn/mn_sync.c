/* mn_sync.c: a mutex and a wait group that park Gs. Both keep their waiters in FIFO order;
 * unlocking hands the mutex straight to the first waiter (no barging), so a G cannot be
 * starved by others re-locking in a loop. */
#include "mn_impl.h"

void mn_mutex_lock(mn_mutex *mu)
{
	mn_g *self = mn__getg();
	mn__enter(self);
	mn__lock(&mu->lk);
	if (!mu->locked) {
		mu->locked = 1;
		mn__unlock(&mu->lk);
		mn__leave(self);
		return;
	}
	mn_sudog *sd = mn__sudog_get(self);
	sd->g = self;
	mn__wq_push(&mu->q, sd);
	mn__park(self, mn__unlock_hook, &mu->lk);
	/* the unlocker handed us the mutex: locked stayed 1 */
	mn__sudog_put(self, sd);
	mn__leave(self);
}

void mn_mutex_unlock(mn_mutex *mu)
{
	mn_g *self = mn__getg();
	mn__enter(self);
	mn__lock(&mu->lk);
	mn_sudog *s = mn__wq_pop(&mu->q);
	if (!s)
		mu->locked = 0;
	mn__unlock(&mu->lk);
	if (s)
		mn__ready(s->g, 0);
	mn__leave(self);
}

void mn_wg_add(mn_wg *w, int64_t delta)
{
	mn_g *self = mn__getg();
	mn__enter(self);
	mn_g *list = NULL;
	mn__lock(&w->lk);
	w->count += delta;
	if (w->count <= 0) {
		mn_sudog *s;
		while ((s = mn__wq_pop(&w->q))) {
			s->g->link = list;
			list = s->g;
		}
	}
	mn__unlock(&w->lk);
	mn__inject(list);
	mn__leave(self);
}

void mn_wg_wait(mn_wg *w)
{
	mn_g *self = mn__getg();
	mn__enter(self);
	mn__lock(&w->lk);
	if (w->count <= 0) {
		mn__unlock(&w->lk);
		mn__leave(self);
		return;
	}
	mn_sudog *sd = mn__sudog_get(self);
	sd->g = self;
	mn__wq_push(&w->q, sd);
	mn__park(self, mn__unlock_hook, &w->lk);
	mn__sudog_put(self, sd);
	mn__leave(self);
}
