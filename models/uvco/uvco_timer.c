/* uvco_timer.c: sleeps the way Node.js implements setTimeout (lib/internal/timers.js): one
 * uv_timer for the whole loop, a list of sleepers per duration, and a priority queue of the
 * lists ordered by their first deadline.
 *
 * Sleepers of equal duration expire in the order they started, so each list is a FIFO and
 * appending or expiring a sleeper is O(1); only the lists (a handful of distinct durations)
 * sit in the heap. One uv_timer per sleeper would put every sleeper in libuv's pointer-based
 * timer heap, whose O(log n) removal dominates a run with 100k sleepers, which is precisely
 * why Node does not do that. The uv_timer is armed for the earliest list deadline; when it
 * fires, every expired sleeper is woken in deadline order, the microtasks drained after each
 * (as Node runs them after each timer callback). Times are libuv's loop time in ms,
 * refreshed when a sleep starts so that a long run before it does not shorten it. */
#include <stdio.h>
#include <stdlib.h>

#include "uvco_int.h"

struct uvco_sleeper {
	uvco_sleeper *next;
	coop_task *task;
	uint64_t start;        /* loop time (ms) when the sleep began */
};

struct uvco_tlist {
	uint64_t ms;           /* the duration every sleeper here waits */
	uint64_t expiry;       /* first sleeper's deadline, while in the heap */
	size_t hi;             /* index in the heap, or SIZE_MAX */
	uvco_sleeper *head, *tail;
};

static void oom(void)
{
	fprintf(stderr, "uvco: out of memory for timers\n");
	abort();
}

/* ---- the heap of lists, by expiry --------------------------------------------------- */

static void heap_set(uvco_timers *T, size_t i, uvco_tlist *l)
{
	T->heap[i] = l;
	l->hi = i;
}

static void sift_up(uvco_timers *T, size_t i)
{
	uvco_tlist *l = T->heap[i];
	while (i > 0 && T->heap[(i - 1) / 2]->expiry > l->expiry) {
		heap_set(T, i, T->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(T, i, l);
}

static void sift_down(uvco_timers *T, size_t i)
{
	uvco_tlist *l = T->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= T->nheap)
			break;
		if (c + 1 < T->nheap && T->heap[c + 1]->expiry < T->heap[c]->expiry)
			c++;
		if (T->heap[c]->expiry >= l->expiry)
			break;
		heap_set(T, i, T->heap[c]);
		i = c;
	}
	heap_set(T, i, l);
}

static void heap_push(uvco_timers *T, uvco_tlist *l)
{
	if (T->nheap == T->heap_cap) {
		size_t cap = T->heap_cap ? T->heap_cap * 2 : 16;
		uvco_tlist **h = realloc(T->heap, cap * sizeof *h);
		if (!h)
			oom();
		T->heap = h;
		T->heap_cap = cap;
	}
	T->heap[T->nheap++] = l;
	sift_up(T, T->nheap - 1);
}

static void heap_pop_top(uvco_timers *T)
{
	T->heap[0]->hi = SIZE_MAX;
	if (--T->nheap) {
		heap_set(T, 0, T->heap[T->nheap]);
		sift_down(T, 0);
	}
}

/* ---- lists by duration ---------------------------------------------------------------- */

static uvco_tlist *list_for(uvco_timers *T, uint64_t ms)
{
	if (T->last && T->last->ms == ms)
		return T->last;
	for (size_t i = 0; i < T->nlists; i++)
		if (T->lists[i]->ms == ms)
			return T->last = T->lists[i];
	if (T->nlists == T->lists_cap) {
		size_t cap = T->lists_cap ? T->lists_cap * 2 : 8;
		uvco_tlist **a = realloc(T->lists, cap * sizeof *a);
		if (!a)
			oom();
		T->lists = a;
		T->lists_cap = cap;
	}
	uvco_tlist *l = calloc(1, sizeof *l);
	if (!l)
		oom();
	l->ms = ms;
	l->hi = SIZE_MAX;
	T->lists[T->nlists++] = l;
	return T->last = l;
}

static void arm(uvco_timers *T, uv_loop_t *loop)
{
	if (!T->nheap) {
		uv_timer_stop(&T->timer);
		return;
	}
	uint64_t now = uv_now(loop), at = T->heap[0]->expiry;
	uv_timer_start(&T->timer, T->timer.timer_cb, at > now ? at - now : 0, 0);
}

static void on_timer(uv_timer_t *h)
{
	uvco_timers *T = h->data;
	uint64_t now = uv_now(h->loop);
	while (T->nheap && T->heap[0]->expiry <= now) {
		uvco_tlist *l = T->heap[0];
		uvco_sleeper *s;
		while ((s = l->head) && s->start + l->ms <= now) {
			l->head = s->next;
			if (!l->head)
				l->tail = NULL;
			coop_task *task = s->task;
			s->next = T->free;
			T->free = s;
			coop_wake(task);
			uvco_settle(); /* may add sleepers, to this list too (they expire later) */
		}
		if (l->head) {
			l->expiry = l->head->start + l->ms;
			sift_down(T, l->hi);
		} else {
			heap_pop_top(T);
		}
	}
	arm(T, h->loop);
}

void uvco_timers_init(uvco_timers *T, uv_loop_t *loop)
{
	*T = (uvco_timers){0};
	uv_timer_init(loop, &T->timer);
	T->timer.data = T;
	T->timer.timer_cb = on_timer; /* so that arm() can restart it */
}

void uvco_timers_fini(uvco_timers *T)
{
	for (size_t i = 0; i < T->nlists; i++)
		free(T->lists[i]);
	free(T->lists);
	free(T->heap);
	while (T->blocks) {
		void **b = T->blocks;
		T->blocks = *b;
		free(b);
	}
}

/* Sleepers come from blocks of 1024, recycled through a free list. */
static uvco_sleeper *sleeper_new(uvco_timers *T)
{
	if (!T->free) {
		enum { PER = 1024 };
		void **b = malloc(sizeof(void *) + PER * sizeof(uvco_sleeper));
		if (!b)
			oom();
		*b = T->blocks;
		T->blocks = b;
		uvco_sleeper *s = (uvco_sleeper *)(b + 1);
		for (int i = 0; i < PER; i++) {
			s[i].next = T->free;
			T->free = &s[i];
		}
	}
	uvco_sleeper *s = T->free;
	T->free = s->next;
	return s;
}

void uvco_timers_sleep(uvco_timers *T, uv_loop_t *loop, uint64_t ms)
{
	uv_update_time(loop);
	uint64_t now = uv_now(loop);
	uvco_tlist *l = list_for(T, ms);
	uvco_sleeper *s = sleeper_new(T);
	s->next = NULL;
	s->task = coop_self();
	s->start = now;
	if (l->tail)
		l->tail->next = s;
	else
		l->head = s;
	l->tail = s;
	if (l->hi == SIZE_MAX) { /* the list was empty: it (re)enters the heap */
		l->expiry = now + ms;
		heap_push(T, l);
		if (l->hi == 0)
			arm(T, loop);
	}
	coop_park();
}
