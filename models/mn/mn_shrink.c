/* mn_shrink.c: giving back the stacks of Gs that stay parked, the way Go shrinks goroutine
 * stacks, but without moving them.
 *
 * The problem. A G's stack is a 64 KiB reservation committed on touch: a G that once ran
 * deep, or only reached its first park, keeps every page it touched (at least one 4 KiB
 * page) for as long as it is parked, while its live frames, from its saved stack pointer to
 * the top, are a few hundred bytes. Go copies a goroutine's stack into a smaller one during
 * garbage collection and fixes up every pointer into it; C cannot find those pointers.
 *
 * The design. sysmon runs a pass every shrink_ns (at most a tenth of its time in passes):
 * it marks each parked G it finds (S_PARKED -> S_OLD) and shrinks each G that it marked on
 * an earlier pass and that has not woken since, so a G is shrunk only once it has been
 * parked at least shrink_ns; one that parks and wakes sooner (a channel ping-pong, a yield,
 * an echo) never pays beyond a store at its park, a load at its resume and, when a channel
 * peer wakes it, the peer's exchange on its state (mn__claim). Shrinking
 * copies the live bytes [sp, top) into a buffer of their size (below) and gives the whole
 * stack's pages back (MADV_DONTNEED, adjacent stacks of a slab in one call), keeping the
 * address range reserved. The bytes go back to the same addresses before the G runs again,
 * so every pointer into the stack stays valid, and a G may resume on any M.
 *
 * Who may touch a parked G's stack. Nothing that lives on it is reachable from another
 * thread while the G is parked (sudogs come from caches, the hooks that publish a parked
 * G read nothing of its stack), except a channel element: a waker copies into or out of
 * the element the waiter keeps, often on its stack. A waker therefore first claims the G
 * (mn__claim): after that the G is S_RUN, no longer shrinkable, and its stack is back.
 *
 * The per-G state, sstate, one word changed by atomic operations only:
 *   S_RUN        running, runnable, or claimed by its waker: not shrinkable
 *   S_PARKED     parked, its context saved (stored after the switch, before the hook that
 *                publishes the G runs)
 *   S_OLD        parked and seen by a pass: the next pass shrinks it
 *   S_SHRINKING  sysmon is copying it out and releasing its pages
 *   S_SHRUNK     its bytes are in sbuf, its pages gone
 *   S_RESTORED   sysmon put the bytes back for a claimer that came during S_SHRINKING
 * A claimer (waker or resuming M) exchanges S_RUN in. Seeing S_SHRUNK, it copies the bytes
 * back itself; seeing S_SHRINKING, it waits for sysmon, whose own CAS S_SHRINKING ->
 * S_SHRUNK then fails, so sysmon copies back and stores S_RESTORED. Exactly one of them
 * copies back, and the G runs only after that.
 *
 * The buffers. Sysmon allocates every buffer and whoever claims the G frees it, on any M,
 * so the allocator is split the way the sudog caches are: size classes of MN_SBUF_GRAIN
 * bytes carved from chunks, a free list per class on every P (its owner's, no lock; a G's
 * claimer holds a P and is inside the runtime), spilling half to a global list per class
 * (one spin lock) when it holds MN_SBUF_CACHE; sysmon takes from the global lists, then
 * carves. A buffer costs its live bytes, an 8-byte length and at most a grain's rounding;
 * no allocator header, no lock on a claimer's path, and no arena of sysmon's that every M
 * frees into. Frames deeper than MN_SBUF_MAX take a plain malloc. At a run's end every G
 * has ended, so every buffer is free and the chunks go (mn__sbuf_free_all).
 *
 * AddressSanitizer and ThreadSanitizer: the copies are not instrumented (a stack holds
 * ASan's poisoned redzones between frames), and page release leaves ASan's shadow alone, so
 * the frames copied back keep their poisoning as it was, exactly. Ordering goes through
 * sstate's atomics, which ThreadSanitizer sees. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mn_impl.h"

#ifndef MN_SHRINK_ADVICE
#define MN_SHRINK_ADVICE MADV_DONTNEED /* MADV_FREE pages stay resident until pressure */
#endif
#define MN_SHRINK_BATCH 64  /* Gs copied out before one round of madvise */
#define MN_SHRINK_DUTY 10   /* a pass at most every this many times its own duration, */
				/* unless a G waits in mn_shrink_settle for the passes */

static _Atomic uint64_t mn_shrinks_total;  /* since the process started */
static _Atomic int64_t mn_shrunk_now;      /* Gs shrunk right now */

uint64_t mn_shrinks(void)
{
	return atomic_load(&mn_shrinks_total);
}

int64_t mn_shrunk(void)
{
	return atomic_load(&mn_shrunk_now);
}

/* The copies: plain words, invisible to the sanitizers (see the top). sp and top are
 * 8-byte aligned. */
#if defined(__clang__)
#define MN_NOSAN __attribute__((noinline, no_sanitize("address", "thread")))
#else
#define MN_NOSAN __attribute__((noinline, no_sanitize_address, no_sanitize_thread, \
			       optimize("no-tree-loop-distribute-patterns")))
#endif
MN_NOSAN static void mn_words_copy(uint64_t *dst, const uint64_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		dst[i] = src[i];
		__asm__ volatile("" ::: "memory"); /* no memcpy call: ASan intercepts it */
	}
}

/* A shrunk G's buffer: its length, then the bytes [sp, top); on a free list, next instead
 * of the length. */
typedef struct mn_sbuf {
	union {
		size_t len;
		struct mn_sbuf *next;
	};
	uint64_t w[];
} mn_sbuf;

/* The class of a buffer holding len bytes of frames, or -1: a malloc'd one. */
static inline int mn_sbuf_class(size_t len)
{
	size_t all = sizeof(mn_sbuf) + len;
	return all > MN_SBUF_MAX ? -1 : (int)((all + MN_SBUF_GRAIN - 1) / MN_SBUF_GRAIN) - 1;
}

/* A chunk that buffers are carved from: the next chunk, then buffers. */
#define MN_SBUF_CHUNK (64 * 1024)
typedef struct mn_sbuf_chunk {
	struct mn_sbuf_chunk *next;
	char pad[MN_SBUF_GRAIN - sizeof(void *)];
	char mem[];
} mn_sbuf_chunk;

/* sysmon: a buffer for len bytes of frames, or NULL (out of memory). */
static mn_sbuf *mn_sbuf_get(size_t len)
{
	int k = mn_sbuf_class(len);
	if (k < 0)
		return malloc(sizeof(mn_sbuf) + len);
	size_t size = (size_t)(k + 1) * MN_SBUF_GRAIN;
	mn_sbuf *b;
	mn__lock(&mn_sched.sblk);
	if ((b = mn_sched.sbufs[k])) {
		mn_sched.sbufs[k] = b->next;
	} else {
		if (mn_sched.sbuf_end - mn_sched.sbuf_bump < (ptrdiff_t)size) {
			mn_sbuf_chunk *c = malloc(MN_SBUF_CHUNK);
			if (!c) {
				mn__unlock(&mn_sched.sblk);
				return NULL;
			}
			c->next = mn_sched.sbuf_chunks;
			mn_sched.sbuf_chunks = c;
			mn_sched.sbuf_bump = c->mem;
			mn_sched.sbuf_end = (char *)c + MN_SBUF_CHUNK;
		}
		b = (mn_sbuf *)mn_sched.sbuf_bump;
		mn_sched.sbuf_bump += size;
	}
	mn__unlock(&mn_sched.sblk);
	return b;
}

/* A buffer given back: to p's list of its class (p: the claimer's own P), spilling half to
 * the global list when p holds MN_SBUF_CACHE; with no P (sysmon), to the global list. */
static void mn_sbuf_put(mn_p *p, mn_sbuf *b)
{
	int k = mn_sbuf_class(b->len);
	if (k < 0) {
		free(b);
		return;
	}
	if (p && p->nsbufs[k] < MN_SBUF_CACHE) {
		b->next = p->sbufs[k];
		p->sbufs[k] = b;
		p->nsbufs[k]++;
		return;
	}
	mn__lock(&mn_sched.sblk);
	b->next = mn_sched.sbufs[k];
	mn_sched.sbufs[k] = b;
	while (p && p->nsbufs[k] > MN_SBUF_CACHE / 2) {
		mn_sbuf *x = p->sbufs[k];
		p->sbufs[k] = x->next;
		p->nsbufs[k]--;
		x->next = mn_sched.sbufs[k];
		mn_sched.sbufs[k] = x;
	}
	mn__unlock(&mn_sched.sblk);
}

/* At a run's end (every G has ended, every buffer is on a list): release the chunks. */
void mn__sbuf_free_all(void)
{
	for (mn_sbuf_chunk *c = mn_sched.sbuf_chunks, *n; c; c = n) {
		n = c->next;
		free(c);
	}
	mn_sched.sbuf_chunks = NULL;
	mn_sched.sbuf_bump = mn_sched.sbuf_end = NULL;
	memset(mn_sched.sbufs, 0, sizeof mn_sched.sbufs);
	for (int i = 0; i < mn_sched.nprocs; i++) {
		memset(mn_sched.allp[i].sbufs, 0, sizeof mn_sched.allp[i].sbufs);
		memset(mn_sched.allp[i].nsbufs, 0, sizeof mn_sched.allp[i].nsbufs);
	}
}

static inline char *mn_stack_top(const mn_g *g)
{
	return (char *)g->ctx.stack.lo + g->ctx.stack.size + MN_STACK_OWNER;
}

/* p: the P of the thread copying back (NULL: sysmon) */
static void mn_copy_back(mn_p *p, mn_g *g)
{
	mn_sbuf *b = g->sbuf;
	mn_words_copy((uint64_t *)(mn_stack_top(g) - b->len), b->w, b->len / 8);
	g->sbuf = NULL;
	mn_sbuf_put(p, b);
	atomic_fetch_sub_explicit(&mn_shrunk_now, 1, memory_order_relaxed);
}

/* g was claimed (S_RUN exchanged in) while its state was old >= S_SHRINKING. */
void mn__unshrink(mn_g *g, uint32_t old)
{
	if (old == S_SHRUNK) { /* a claimer is inside the runtime, on an M with a P */
		mn_m *m = mn__getm();
		mn_copy_back(m ? m->p : NULL, g);
		return;
	}
	/* S_SHRINKING: sysmon copies back and hands over with S_RESTORED */
	for (int spins = 0;
	     atomic_load_explicit(&g->sstate, memory_order_acquire) != S_RESTORED; spins++) {
		if (spins < 64)
			mn__cpu_relax();
		else
			sched_yield();
	}
	atomic_store_explicit(&g->sstate, S_RUN, memory_order_relaxed);
}

void mn__resume_slow(mn_g *g)
{
	uint32_t old = atomic_exchange(&g->sstate, S_RUN);
	if (old >= S_SHRINKING)
		mn__unshrink(g, old);
}

typedef struct mn_shr {
	mn_g *g;
	char *lo, *hi; /* the whole stack, owner slot included */
	mn_sbuf *b;
} mn_shr;

static int mn_shr_cmp(const void *a, const void *b)
{
	const mn_shr *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The Gs of a batch are S_SHRINKING and copied out: release their pages, adjacent stacks
 * (one slab's, guards between them) in one call, then publish them shrunk. */
static void mn_shrink_batch(mn_shr *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, mn_shr_cmp);
	for (int i = 0; i < n;) {
		int j = i + 1;
		while (j < n && v[j].lo == v[j - 1].hi + mn_sched.stack_guard)
			j++;
		/* guards in between are kept: MADV_DONTNEED leaves guard regions and PROT_NONE
		 * mappings as they are */
		madvise(v[i].lo, (size_t)(v[j - 1].hi - v[i].lo), MN_SHRINK_ADVICE);
		i = j;
	}
	for (int i = 0; i < n; i++) {
		mn_g *g = v[i].g;
		g->sbuf = v[i].b;
		atomic_fetch_add_explicit(&mn_shrunk_now, 1, memory_order_relaxed);
		uint32_t st = S_SHRINKING;
		if (atomic_compare_exchange_strong(&g->sstate, &st, S_SHRUNK)) {
			atomic_fetch_add_explicit(&mn_shrinks_total, 1, memory_order_relaxed);
			continue;
		}
		mn_copy_back(NULL, g); /* claimed meanwhile: its claimer waits for this */
		atomic_store_explicit(&g->sstate, S_RESTORED, memory_order_release);
	}
}

/* One pass over every G (sysmon). Returns how many parked Gs it left unshrunk. */
static int64_t mn_shrink_pass(void)
{
	mn_shr v[MN_SHRINK_BATCH];
	int n = 0;
	int64_t pending = 0;
	for (int blk = 0;; blk++) {
		mn__lock(&mn_sched.slk);
		mn_g *b = blk < mn_sched.nallg ? mn_sched.allg_blocks[blk] : NULL;
		mn__unlock(&mn_sched.slk);
		if (!b)
			break;
		for (int i = 0; i < MN_GBLOCK; i++) {
			mn_g *g = &b[i];
			if (g == atomic_load_explicit(&mn_sched.settler, memory_order_relaxed))
				continue; /* waits for the others, in short sleeps */
			uint32_t st = atomic_load_explicit(&g->sstate, memory_order_relaxed);
			if (st == S_PARKED) {
				if (atomic_compare_exchange_strong(&g->sstate, &st, S_OLD))
					pending++;
				continue;
			}
			if (st != S_OLD || !atomic_compare_exchange_strong(&g->sstate, &st,
									   S_SHRINKING))
				continue;
			char *lo = g->ctx.stack.lo, *hi = mn_stack_top(g), *sp = g->ctx.sp;
			size_t len = (size_t)(hi - sp);
			mn_sbuf *sb = NULL;
			if (!lo || sp < lo || sp >= hi || (len & 7) ||
			    !(sb = mn_sbuf_get(len))) {
				st = S_SHRINKING; /* not a stack to shrink, or no memory: later */
				atomic_compare_exchange_strong(&g->sstate, &st, S_PARKED);
				if (st != S_SHRINKING)
					atomic_store(&g->sstate, S_RESTORED); /* a claimer waits */
				pending++;
				continue;
			}
			sb->len = len;
			mn_words_copy(sb->w, (const uint64_t *)sp, len / 8);
			v[n++] = (mn_shr){g, lo, hi, sb};
			if (n == MN_SHRINK_BATCH) {
				mn_shrink_batch(v, n);
				n = 0;
			}
		}
	}
	if (n)
		mn_shrink_batch(v, n);
	return pending;
}

/* sysmon, each round: run a pass when one is due. Returns when the next is due (INT64_MAX:
 * shrinking is off); *pending says whether the last pass left parked Gs to shrink (sysmon
 * must not sleep for good then). */
int64_t mn__shrink_tick(int64_t now, int *pending)
{
	*pending = 0;
	if (mn_sched.shrink_ns <= 0)
		return INT64_MAX;
	/* A settler waits for the passes: the next is due now, not at the shrink_ns a pass
	 * before it scheduled (micro.idle's reading waited out up to that second, each
	 * repetition and warm-up). */
	int settling = atomic_load_explicit(&mn_sched.settler, memory_order_relaxed) != NULL;
	if (now < mn_sched.shrink_next && !settling) {
		*pending = mn_sched.shrink_pending > 0;
		return mn_sched.shrink_next;
	}
	uint64_t seq = atomic_fetch_add(&mn_sched.shrink_seq, 1) + 1; /* this pass */
	int64_t left = mn_shrink_pass();
	/* A settler asked for the passes and waits for them: they run back to back (a pass over
	 * 1M Gs took 1-3 s on the 2-vCPU box, so at the duty limit the three a settle needs
	 * outlasted micro.idle's 30 s wait). */
	int64_t end = mn__now();
	int64_t gap = (end - now) * MN_SHRINK_DUTY;
	if (gap < mn_sched.shrink_ns)
		gap = mn_sched.shrink_ns;
	/* A settler stands for the time a long-lived program's idle tasks stay parked: it does
	 * not wait the shrink_ns between the marking pass and the shrinking one either. */
	if (settling)
		gap = 0;
	mn_sched.shrink_next = end + gap;
	mn_sched.shrink_pending = left;
	*pending = left > 0;
	if (!left)
		atomic_store(&mn_sched.shrink_quiet, seq);
	return mn_sched.shrink_next;
}

/* Wait (as a G) until a pass that began after the call has found no other parked G left
 * unshrunk: 1; max_ns passed first: 0; shrinking is off: -1 at once. */
int mn_shrink_settle(int64_t max_ns)
{
	if (mn_sched.shrink_ns <= 0)
		return -1;
	mn_g *self = mn__getg();
	atomic_store(&mn_sched.settler, self);
	uint64_t s0 = atomic_load(&mn_sched.shrink_seq); /* passes begun so far */
	int64_t end = mn__now() + max_ns;
	int settled = 1;
	while (atomic_load(&mn_sched.shrink_quiet) <= s0) {
		if (mn__now() >= end) {
			settled = 0;
			break;
		}
		mn_sleep_ns(1000000);
	}
	atomic_store(&mn_sched.settler, NULL);
	return settled;
}
