/* mn_time.c: sleeping Gs. Each P keeps a 4-ary min-heap of the Gs sleeping on it, under
 * a spinlock, with its earliest deadline published in p->tnext so that schedulers, thieves,
 * sysmon and the poller's timeout can all see it without the lock. A P's own scheduler
 * runs its expired timers; an M looking for work runs any P's (its owner may be busy in a
 * long G or gone into a syscall); the M blocking in epoll uses the earliest of all of them
 * as its timeout. */
#include <stdlib.h>
#include <string.h>

#include "mn_impl.h"

/* The heap is 4-ary, as Go's timer heaps are: half the levels of a binary heap, and the
 * four children of a node share one cache line (the array starts 3 entries before a line
 * boundary, so entries 4i+1..4i+4 of 16 bytes each fill the line at 64(i+1)). With 100k
 * sleepers, each pop sifts through ~8 lines instead of ~17. */
#define MN_THEAP_PAD 3

static void mn_heap_up(mn_p *p, int i)
{
	mn_timer t = p->theap[i];
	while (i > 0) {
		int parent = (i - 1) / 4;
		if (p->theap[parent].when <= t.when)
			break;
		p->theap[i] = p->theap[parent];
		i = parent;
	}
	p->theap[i] = t;
}

static void mn_heap_down(mn_p *p, int i)
{
	mn_timer t = p->theap[i];
	for (;;) {
		int c = 4 * i + 1;
		if (c >= p->tn)
			break;
		int end = c + 4 < p->tn ? c + 4 : p->tn;
		int min = c;
		for (int k = c + 1; k < end; k++)
			if (p->theap[k].when < p->theap[min].when)
				min = k;
		if (p->theap[min].when >= t.when)
			break;
		p->theap[i] = p->theap[min];
		i = min;
	}
	p->theap[i] = t;
}

/* Grow the heap to cap entries, keeping the children-in-one-line alignment. */
static int mn_heap_grow(mn_p *p, int cap)
{
	mn_timer *base;
	if (posix_memalign((void **)&base, 64, sizeof(mn_timer) * (size_t)(cap + MN_THEAP_PAD)))
		return -1;
	if (p->theap) {
		memcpy(base + MN_THEAP_PAD, p->theap, sizeof(mn_timer) * (size_t)p->tn);
		free(p->theap - MN_THEAP_PAD);
	}
	p->theap = base + MN_THEAP_PAD;
	p->tcap = cap;
	return 0;
}

static void mn__timers_add(mn_p *p, mn_g *g, int64_t when)
{
	mn__lock(&p->tlk);
	if (p->tn == p->tcap && mn_heap_grow(p, p->tcap ? 2 * p->tcap : 61)) {
		mn__unlock(&p->tlk);
		mn__ready(g, 0); /* no room: wake it early rather than never */
		return;
	}
	p->theap[p->tn++] = (mn_timer){when, g};
	mn_heap_up(p, p->tn - 1);
	atomic_store(&p->tnext, p->theap[0].when);
	mn__unlock(&p->tlk);
}

int mn__timers_run(mn_p *p, int64_t now)
{
	mn_g *list = NULL;
	int n = 0;
	mn__lock(&p->tlk);
	while (p->tn > 0 && p->theap[0].when <= now) {
		mn_g *g = p->theap[0].g;
		if (--p->tn > 0) {
			p->theap[0] = p->theap[p->tn];
			mn_heap_down(p, 0);
		}
		if (p->tn > 0) /* its descriptor is written next round (link, then status) */
			__builtin_prefetch((const char *)p->theap[0].g + 64, 1, 3);
		g->link = list;
		list = g;
		n++;
	}
	atomic_store(&p->tnext, p->tn ? p->theap[0].when : INT64_MAX);
	mn__unlock(&p->tlk);
	/* Woken sleepers go to runnext, as Go's goready puts them: the earliest deadline
	 * (last in the list) ends up there and runs first; the rest queue in the ring. */
	while (list) {
		mn_g *g = list->link;
		mn__ready(list, 1);
		list = g;
	}
	return n;
}

int64_t mn__timers_next(void)
{
	int64_t next = INT64_MAX;
	for (int i = 0; i < mn_sched.nprocs; i++) {
		int64_t t = atomic_load_explicit(&mn_sched.allp[i].tnext, memory_order_relaxed);
		if (t < next)
			next = t;
	}
	return next;
}

void mn__timers_free(mn_p *p)
{
	if (p->theap)
		free(p->theap - MN_THEAP_PAD);
	p->theap = NULL;
	p->tn = p->tcap = 0;
}

static void mn_sleep_hook(mn_g *prev, void *arg)
{
	int64_t when = (int64_t)(intptr_t)arg; /* by value: nothing of a parked G's stack is read */
	mn__parked(prev);
	/* hooks run on the sleeper's M right after the switch: its P is still this M's. Read
	 * prev->m before the timer is added: from then on prev may run elsewhere. */
	mn_m *m = prev->m;
	mn__timers_add(m->p, prev, when);
	if (m->curg) /* a G runs on this P now: if it hogs, sysmon must preempt it */
		mn__sysmon_deadline(when);
	if (atomic_load_explicit(&mn_sched.polling, memory_order_relaxed) &&
	    when < atomic_load(&mn_sched.poll_until))
		mn__netpoll_break(); /* the poller sleeps past this deadline */
}

void mn_sleep_ns(uint64_t ns)
{
	if (ns == 0) {
		mn_yield();
		return;
	}
	mn_g *g = mn__getg();
	mn__enter(g);
	int64_t when = mn__now() + (int64_t)ns;
	_Static_assert(sizeof(intptr_t) == sizeof(int64_t), "a deadline fits a hook's argument");
	mn__park(g, mn_sleep_hook, (void *)(intptr_t)when);
	mn__leave(g);
}
