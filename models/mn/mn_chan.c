/* mn_chan.c: channels. A ring buffer plus two FIFO queues of waiting Gs (senders,
 * receivers) under one spinlock per channel. A waiter's sudog comes from its P's cache; its
 * element stays where the waiter keeps it (often on its own stack), and the G on the other
 * side copies straight into or out of it and then readies it into its P's runnext slot: a
 * send/receive pair hands the processor over without touching the run queue. Only an
 * operation that waits takes a sudog. select locks its channels in address order, takes
 * any ready case (in random order), or enqueues a sudog on every channel with a shared
 * "decided" flag that the first waker claims. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mn_impl.h"

struct mn_chan {
	int lk;
	int closed;
	size_t elem, cap;
	size_t head, count;
	mn_waitq sendq, recvq;
	unsigned char *buf;
};

mn_chan *mn_chan_make(size_t elem, size_t cap)
{
	if (elem > MN_ELEM_MAX) {
		errno = EINVAL;
		return NULL;
	}
	mn_chan *c = calloc(1, sizeof *c + elem * cap);
	if (!c)
		return NULL;
	c->elem = elem;
	c->cap = cap;
	c->buf = (unsigned char *)(c + 1);
	return c;
}

void mn_chan_free(mn_chan *c)
{
	free(c);
}

static inline void mn_chan_copy(mn_chan *c, void *dst, const void *src)
{
	if (!dst || !c->elem)
		return;
	if (!src)
		memset(dst, 0, c->elem);
	else if (c->elem == sizeof(uint64_t))
		memcpy(dst, src, sizeof(uint64_t)); /* the common case, inlined */
	else
		memcpy(dst, src, c->elem);
}

/* Try the operation without waiting. Lock held. Returns 1 done (*res set), 0 would block. */
static int mn_chan_try_send_locked(mn_chan *c, const void *elem, int *res, mn_g **wake)
{
	if (c->closed) {
		*res = MN_CLOSED;
		return 1;
	}
	mn_sudog *r = mn__wq_pop(&c->recvq);
	if (r) {
		mn__claim(r->g); /* its element may be on its stack */
		mn_chan_copy(c, r->elem, elem);
		r->success = 1;
		r->g->wake = r;
		*wake = r->g;
		*res = MN_OK;
		return 1;
	}
	if (c->count < c->cap) {
		mn_chan_copy(c, c->buf + ((c->head + c->count) % c->cap) * c->elem, elem);
		c->count++;
		*res = MN_OK;
		return 1;
	}
	return 0;
}

static int mn_chan_try_recv_locked(mn_chan *c, void *elem, int *res, mn_g **wake)
{
	mn_sudog *s;
	if (c->count > 0) {
		mn_chan_copy(c, elem, c->buf + c->head * c->elem);
		c->head = (c->head + 1) % c->cap;
		c->count--;
		/* a blocked sender's element takes the freed slot, keeping FIFO order */
		if ((s = mn__wq_pop(&c->sendq))) {
			mn__claim(s->g);
			mn_chan_copy(c, c->buf + ((c->head + c->count) % c->cap) * c->elem, s->elem);
			c->count++;
			s->success = 1;
			s->g->wake = s;
			*wake = s->g;
		}
		*res = MN_OK;
		return 1;
	}
	if ((s = mn__wq_pop(&c->sendq))) { /* rendezvous: straight from the sender */
		mn__claim(s->g);
		mn_chan_copy(c, elem, s->elem);
		s->success = 1;
		s->g->wake = s;
		*wake = s->g;
		*res = MN_OK;
		return 1;
	}
	if (c->closed) {
		mn_chan_copy(c, elem, NULL);
		*res = MN_CLOSED;
		return 1;
	}
	return 0;
}

static int mn_chan_op(mn_chan *c, void *elem, int send, int block)
{
	mn_g *self = mn__getg();
	mn__enter(self);
	mn_g *wake = NULL;
	int res;
	mn__lock(&c->lk);
	int done = send ? mn_chan_try_send_locked(c, elem, &res, &wake)
			: mn_chan_try_recv_locked(c, elem, &res, &wake);
	if (done) {
		mn__unlock(&c->lk);
		if (wake)
			mn__ready_by(self, wake, 1);
		mn__leave(self);
		return res;
	}
	if (!block) {
		mn__unlock(&c->lk);
		mn__leave(self);
		return MN_EMPTY;
	}
	mn_sudog *sd = mn__sudog_get(self);
	sd->g = self;
	sd->elem = elem;
	mn__wq_push(send ? &c->sendq : &c->recvq, sd);
	mn__park(self, mn__unlock_hook, &c->lk);
	res = sd->success ? MN_OK : MN_CLOSED;
	mn__sudog_put(self, sd);
	mn__leave(self);
	return res;
}

int mn_chan_send(mn_chan *c, const void *elem)
{
	return mn_chan_op(c, (void *)elem, 1, 1);
}

int mn_chan_recv(mn_chan *c, void *elem)
{
	return mn_chan_op(c, elem, 0, 1);
}

int mn_chan_try_recv(mn_chan *c, void *elem)
{
	return mn_chan_op(c, elem, 0, 0);
}

void mn_chan_close(mn_chan *c)
{
	mn_g *self = mn__getg();
	mn__enter(self);
	mn_g *list = NULL;
	mn__lock(&c->lk);
	c->closed = 1;
	mn_sudog *s;
	while ((s = mn__wq_pop(&c->recvq))) {
		mn__claim(s->g);
		mn_chan_copy(c, s->elem, NULL);
		s->success = 0;
		s->g->wake = s;
		s->g->link = list;
		list = s->g;
	}
	while ((s = mn__wq_pop(&c->sendq))) {
		s->success = 0;
		s->g->wake = s;
		s->g->link = list;
		list = s->g;
	}
	mn__unlock(&c->lk);
	mn__inject(list);
	mn__leave(self);
}

/* ---- select ------------------------------------------------------------------------------ */

#define MN_SELECT_MAX 64

static void mn_sel_lock(mn_chan **order, int n)
{
	for (int i = 0; i < n; i++)
		if (i == 0 || order[i] != order[i - 1])
			mn__lock(&order[i]->lk);
}

static void mn_sel_unlock(mn_chan **order, int n)
{
	for (int i = n - 1; i >= 0; i--)
		if (i == 0 || order[i] != order[i - 1])
			mn__unlock(&order[i]->lk);
}

/* The channels to unlock are copied to the M the hook runs on: a parked G's stack is not
 * read by anyone (mn_shrink.c). */
static void mn_sel_unlock_hook(mn_g *prev, void *arg)
{
	mn_m *m = arg;
	mn__parked(prev);
	mn_sel_unlock(m->sel_order, m->sel_n);
}

static int mn_chan_cmp(const void *a, const void *b)
{
	const mn_chan *x = *(mn_chan *const *)a, *y = *(mn_chan *const *)b;
	return x < y ? -1 : x > y;
}

int mn_select(mn_case *cases, int n, int nonblock)
{
	if (n <= 0 || n > MN_SELECT_MAX) {
		if (n <= 0 && nonblock)
			return -1;
		errno = EINVAL;
		return -2;
	}
	mn_g *self = mn__getg();
	mn__enter(self);
	mn_chan *order[MN_SELECT_MAX];
	int perm[MN_SELECT_MAX];
	for (int i = 0; i < n; i++) {
		order[i] = cases[i].c;
		perm[i] = i;
	}
	qsort(order, (size_t)n, sizeof order[0], mn_chan_cmp);
	for (int i = n - 1; i > 0; i--) { /* poll order: random, so no case starves */
		int j = (int)(mn__fastrand() % (uint32_t)(i + 1)), t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	mn_sel_lock(order, n);
	for (int k = 0; k < n; k++) {
		mn_case *cs = &cases[perm[k]];
		mn_g *wake = NULL;
		int res;
		int done = cs->send ? mn_chan_try_send_locked(cs->c, cs->elem, &res, &wake)
				    : mn_chan_try_recv_locked(cs->c, cs->elem, &res, &wake);
		if (done) {
			mn_sel_unlock(order, n);
			if (wake)
				mn__ready(wake, 1);
			cs->result = res;
			mn__leave(self);
			return perm[k];
		}
	}
	if (nonblock) {
		mn_sel_unlock(order, n);
		mn__leave(self);
		return -1;
	}
	mn_sudog *sd[MN_SELECT_MAX];
	for (int i = 0; i < n; i++) {
		mn_sudog *s = sd[i] = mn__sudog_get(self);
		s->g = self;
		s->elem = cases[i].elem;
		s->sel = &sd[0]->decided;
		s->idx = i;
	}
	atomic_store_explicit(&sd[0]->decided, 0, memory_order_relaxed);
	for (int i = 0; i < n; i++)
		mn__wq_push(cases[i].send ? &cases[i].c->sendq : &cases[i].c->recvq, sd[i]);
	self->wake = NULL;
	mn_m *m = self->m;
	if (!m->sel_order && !(m->sel_order = malloc(sizeof order))) {
		/* no memory to hand the locks over: withdraw, unlock, and fail */
		for (int i = 0; i < n; i++) {
			mn__wq_remove(cases[i].send ? &cases[i].c->sendq : &cases[i].c->recvq, sd[i]);
			sd[i]->sel = NULL;
			mn__sudog_put(self, sd[i]);
		}
		mn_sel_unlock(order, n);
		mn__leave(self);
		errno = ENOMEM;
		return -2;
	}
	memcpy(m->sel_order, order, sizeof order[0] * (size_t)n);
	m->sel_n = n;
	mn__park(self, mn_sel_unlock_hook, m);
	/* woken by one case: withdraw from the others */
	mn_sudog *won = self->wake;
	mn_sel_lock(order, n);
	for (int i = 0; i < n; i++)
		if (sd[i] != won)
			mn__wq_remove(cases[i].send ? &cases[i].c->sendq : &cases[i].c->recvq, sd[i]);
	mn_sel_unlock(order, n);
	int idx = won->idx;
	cases[idx].result = won->success ? MN_OK : MN_CLOSED;
	for (int i = 0; i < n; i++) {
		sd[i]->sel = NULL; /* as a free sudog has it */
		mn__sudog_put(self, sd[i]);
	}
	mn__leave(self);
	return idx;
}
