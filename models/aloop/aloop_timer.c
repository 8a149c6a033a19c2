/* aloop_timer.c: the timer heap (asyncio's loop._scheduled, a heapq of TimerHandles):
 * an array-backed binary min-heap ordered by (deadline, insertion order). */
#include <errno.h>
#include <stdlib.h>

#include "aloop_int.h"

static int before(const aloop_timer *a, const aloop_timer *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

int aloop_heap_push(aloop *l, uint64_t when, coop_task *t)
{
	if (l->nheap == l->heap_cap) {
		size_t cap = l->heap_cap ? l->heap_cap * 2 : 1024;
		aloop_timer *h = realloc(l->heap, cap * sizeof *h);
		if (!h)
			return -1;
		l->heap = h;
		l->heap_cap = cap;
	}
	aloop_timer x = {when, l->timer_seq++, t};
	size_t i = l->nheap++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!before(&x, &l->heap[parent]))
			break;
		l->heap[i] = l->heap[parent];
		i = parent;
	}
	l->heap[i] = x;
	return 0;
}

aloop_timer *aloop_heap_peek(aloop *l) { return l->nheap ? &l->heap[0] : NULL; }

/* Bottom-up deletion: the hole left at the root goes down to a leaf along the earlier
 * child (one comparison per level), then the last element fills it and rises. That last
 * element is usually among the latest deadlines (sleeps of one duration are pushed in
 * deadline order), so it rises little: about half the comparisons of the textbook
 * sift-down, which matters when 100k timers expire together. */
void aloop_heap_pop(aloop *l)
{
	aloop_timer x = l->heap[--l->nheap];
	size_t n = l->nheap, i = 0;
	if (!n)
		return;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && before(&l->heap[c + 1], &l->heap[c]))
			c++;
		l->heap[i] = l->heap[c];
		i = c;
	}
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!before(&x, &l->heap[parent]))
			break;
		l->heap[i] = l->heap[parent];
		i = parent;
	}
	l->heap[i] = x;
}
