/* mn_runq.c: the run queues of mn. Each P has a ring of 256 runnable Gs and a runnext slot;
 * beyond them, a global queue of G pointer batches under the scheduler lock. Why this shape,
 * and who may write what (only a P's owner stores its tail and fills runnext, thieves CAS the
 * head or empty runnext), is in the design comment of mn_sched.c. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mn_impl.h"

#define MN_RUNNEXT_GRACE_NS 3000 /* a thief leaves a running P's runnext this long (Go: 3 us) */

/* Append n Gs to the global queue, filling the last batch before starting a new one. */
void mn__gq_put(mn_g *const *gs, int n)
{
	const int cap = MN_RUNQ / 2 + 1;
	mn_gbatch *spare = NULL;
	mn__lock(&mn_sched.lk);
	atomic_fetch_add(&mn_sched.gq_n, n);
	while (n > 0) {
		mn_gbatch *b = mn_sched.gq_last;
		if (!b || b->head + b->n == cap) {
			if (!(b = mn_sched.gq_free)) {
				/* malloc outside the spinlock */
				mn__unlock(&mn_sched.lk);
				spare = malloc(sizeof *spare);
				if (!spare)
					mn__fatal("out of memory for the global run queue");
				mn__lock(&mn_sched.lk);
				spare->next = mn_sched.gq_free;
				mn_sched.gq_free = spare;
				continue;
			}
			mn_sched.gq_free = b->next;
			b->next = NULL;
			b->head = b->n = 0;
			if (mn_sched.gq_last)
				mn_sched.gq_last->next = b;
			else
				mn_sched.gq_first = b;
			mn_sched.gq_last = b;
		}
		int k = cap - (b->head + b->n);
		if (k > n)
			k = n;
		memcpy(&b->g[b->head + b->n], gs, sizeof(mn_g *) * (size_t)k);
		b->n += k;
		gs += k;
		n -= k;
	}
	mn__unlock(&mn_sched.lk);
}

/* The ring is full: move half of it plus g to the global queue in one batch. Not inlined:
 * its 1 KiB batch would otherwise sit in the frame of every caller on a G's stack. */
__attribute__((noinline, cold)) static int mn_runq_put_slow(mn_p *p, mn_g *g, uint32_t h, uint32_t t)
{
	mn_g *batch[MN_RUNQ / 2 + 1];
	uint32_t n = (t - h) / 2;
	for (uint32_t i = 0; i < n; i++)
		batch[i] = atomic_load_explicit(&p->runq[(h + i) % MN_RUNQ], memory_order_relaxed);
	if (!atomic_compare_exchange_strong_explicit(&p->head, &h, h + n, memory_order_release,
						     memory_order_relaxed))
		return 0;
	batch[n] = g;
	mn__gq_put(batch, (int)n + 1);
	return 1;
}

/* Returns 1 when the queue proper grew (worth waking a thief), 0 when g only took the
 * empty runnext slot. */
int mn__runq_put(mn_p *p, mn_g *g, int next)
{
	if (next) {
		/* Thieves only ever take runnext (CAS to NULL): an empty slot stays empty until
		 * the owner fills it, so a plain store does; a full one needs the exchange. */
		if (!atomic_load_explicit(&p->runnext, memory_order_relaxed)) {
			atomic_store_explicit(&p->runnext, g, memory_order_release);
			return 0;
		}
		g = atomic_exchange_explicit(&p->runnext, g, memory_order_acq_rel);
		if (!g)
			return 0;
	}
	for (;;) {
		uint32_t h = atomic_load_explicit(&p->head, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&p->tail, memory_order_relaxed);
		if (t - h < MN_RUNQ) {
			atomic_store_explicit(&p->runq[t % MN_RUNQ], g, memory_order_relaxed);
			atomic_store_explicit(&p->tail, t + 1, memory_order_release);
			return 1;
		}
		if (mn_runq_put_slow(p, g, h, t))
			return 1;
	}
}

/* Start loading what g touches first when it runs: the top of its saved stack (the
 * registers coro__swap pops and the frames it returns through), or for a G's first run the
 * top of the stack it will get. With thousands of runnable Gs these lines are cold, and
 * each first pop would otherwise stall on a cache and TLB miss. The fields are read with
 * relaxed atomics: a thief may be running g already, and a stale value only wastes a
 * prefetch (which never faults). ThreadSanitizer would still see a plain write racing with
 * these reads, so its builds go without the hint. */
static inline void mn_prefetch_g(mn_p *p, mn_g *g, mn_g *before)
{
#ifdef CORO_TSAN
	(void)p, (void)g, (void)before;
	return;
#endif
	const char *sp;
	if (__atomic_load_n(&g->has_stack, __ATOMIC_RELAXED)) {
		sp = __atomic_load_n((char **)&g->ctx.sp, __ATOMIC_RELAXED);
	} else {
		/* the cached stack it will get: the top one, unless `before` (to run first)
		 * takes that one */
		int i = p->nstacks - 1 - !__atomic_load_n(&before->has_stack, __ATOMIC_RELAXED);
		if (i < 0)
			return;
		sp = (const char *)p->stacks[i].lo + p->stacks[i].size - 256;
	}
	for (int i = 0; i < 4; i++)
		__builtin_prefetch(sp + 64 * i, 1, 3);
}

/* The ring part of mn__runq_get (mn_impl.h takes runnext inline). */
mn_g *mn__runq_get_ring(mn_p *p)
{
	mn_g *g;
	for (;;) {
		uint32_t h = atomic_load_explicit(&p->head, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&p->tail, memory_order_relaxed);
		if (t == h)
			return NULL;
		g = atomic_load_explicit(&p->runq[h % MN_RUNQ], memory_order_relaxed);
		if (atomic_compare_exchange_strong_explicit(&p->head, &h, h + 1, memory_order_release,
							    memory_order_relaxed)) {
			/* a long queue: warm up the next G's stack and the one after's descriptor */
			if (t - h > 1)
				mn_prefetch_g(p, atomic_load_explicit(&p->runq[(h + 1) % MN_RUNQ],
								      memory_order_relaxed), g);
			if (t - h > 2) {
				const char *g2 = (const char *)atomic_load_explicit(
					&p->runq[(h + 2) % MN_RUNQ], memory_order_relaxed);
				__builtin_prefetch(g2, 1, 3);
				__builtin_prefetch(g2 + 64, 1, 3);
			}
			return g;
		}
	}
}

/* Steal half of victim's ring into p's; the runnext slot only when stealnext (it is the
 * handoff its owner is about to run). Returns one G to run, the rest stay queued on p. */
mn_g *mn__runq_steal(mn_p *p, mn_p *victim, int stealnext)
{
	uint32_t t = atomic_load_explicit(&p->tail, memory_order_relaxed);
	uint32_t n;
	for (;;) {
		uint32_t h = atomic_load_explicit(&victim->head, memory_order_acquire);
		uint32_t vt = atomic_load_explicit(&victim->tail, memory_order_acquire);
		n = vt - h;
		n -= n / 2;
		if (n == 0) {
			if (!stealnext)
				return NULL;
			mn_g *g = atomic_load(&victim->runnext);
			if (!g)
				return NULL;
			if (atomic_load(&victim->status) == P_RUNNING) {
				/* The running G readied it and is probably about to block (a channel
				 * handoff): give the owner ~3 us to run it itself, as Go does, or
				 * the pair would bounce between cores. */
				uint32_t tick = atomic_load_explicit(&victim->schedtick,
								     memory_order_relaxed);
				int64_t until = mn__now() + MN_RUNNEXT_GRACE_NS;
				while (mn__now() < until)
					mn__cpu_relax();
				if (atomic_load_explicit(&victim->schedtick, memory_order_relaxed) != tick)
					return NULL;
			}
			if (atomic_compare_exchange_strong(&victim->runnext, &g, NULL))
				return g;
			return NULL;
		}
		if (n > MN_RUNQ / 2)
			continue; /* read head and tail at different times */
		for (uint32_t i = 0; i < n; i++) {
			mn_g *g = atomic_load_explicit(&victim->runq[(h + i) % MN_RUNQ],
						       memory_order_relaxed);
			atomic_store_explicit(&p->runq[(t + i) % MN_RUNQ], g, memory_order_relaxed);
		}
		if (atomic_compare_exchange_strong_explicit(&victim->head, &h, h + n,
							    memory_order_release, memory_order_relaxed))
			break;
	}
	n--;
	mn_g *g = atomic_load_explicit(&p->runq[(t + n) % MN_RUNQ], memory_order_relaxed);
	if (n)
		atomic_store_explicit(&p->tail, t + n, memory_order_release);
	return g;
}

/* Take a batch from the global queue: one to run, some more onto p's ring. */
mn_g *mn__gq_get(mn_p *p, int max)
{
	if (!atomic_load_explicit(&mn_sched.gq_n, memory_order_relaxed))
		return NULL;
	mn_g *got[MN_RUNQ / 2 + 1];
	mn__lock(&mn_sched.lk);
	mn_gbatch *b = mn_sched.gq_first;
	if (!b) {
		mn__unlock(&mn_sched.lk);
		return NULL;
	}
	int want = atomic_load(&mn_sched.gq_n) / mn_sched.nprocs + 1;
	if (max && want > max)
		want = max;
	if (want > b->n)
		want = b->n; /* one batch at a time: at most half a ring */
	memcpy(got, &b->g[b->head], sizeof(mn_g *) * (size_t)want);
	b->head += want;
	b->n -= want;
	if (!b->n) {
		mn_sched.gq_first = b->next;
		if (!mn_sched.gq_first)
			mn_sched.gq_last = NULL;
		b->next = mn_sched.gq_free;
		mn_sched.gq_free = b;
	}
	atomic_fetch_sub(&mn_sched.gq_n, want);
	mn__unlock(&mn_sched.lk);
	for (int i = 1; i < want; i++)
		mn__runq_put(p, got[i], 0);
	return got[0];
}
