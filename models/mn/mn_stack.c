/* mn_stack.c: G stacks and G descriptors of mn: slabs of guarded stacks, the per-P and global
 * caches of stacks and Gs, the guard that names a G that overflowed, and what a run keeps
 * for the next one in the process (mn_release gives it back). The design is in mn_sched.c
 * ("Stacks are mmap'd 64 at a time..."). */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "mn_impl.h"

#define MN_G_CACHE 64 /* free Gs a P keeps (it spills down to this at twice as many) */
#define MN_SLAB 64    /* stacks mapped by one mmap, with their guards */
_Static_assert(MN_STACK_CACHE <= MN_STACK_SLACK_PER_P && MN_SLAB <= MN_STACK_SLACK_PER_P,
	       "a P's cache and a fresh slab must fit the kept-stack slack mn.h promises");

/* p's cache of free Gs is empty: refill it from the global cache or a fresh block. */
mn_g *mn__galloc_slow(mn_p *p)
{
	mn_g *g;
	mn__lock(&mn_sched.slk);
	if (mn_sched.gfree) {
		for (int i = 0; i < MN_G_CACHE / 2 && mn_sched.gfree; i++) {
			g = mn_sched.gfree;
			mn_sched.gfree = g->link;
			mn_sched.ngfree--;
			g->link = p->gfree;
			p->gfree = g;
			p->ngfree++;
		}
	} else {
		mn_g *block = NULL;
		if (posix_memalign((void **)&block, 64, sizeof(mn_g) * MN_GBLOCK))
			block = NULL;
		if (!block || (mn_sched.nallg == mn_sched.allgcap &&
			       !(mn_sched.allgcap = mn_sched.allgcap ? 2 * mn_sched.allgcap : 64,
				 mn_sched.allg_blocks = realloc(mn_sched.allg_blocks,
								sizeof(void *) * mn_sched.allgcap)))) {
			free(block);
			mn__unlock(&mn_sched.slk);
			return NULL;
		}
		mn_sched.allg_blocks[mn_sched.nallg++] = block;
		for (int i = 0; i < MN_GBLOCK; i++) {
			atomic_init(&block[i].sstate, S_NOSTACK); /* sysmon's passes read every G */
			block[i].link = p->gfree;
			p->gfree = &block[i];
			p->ngfree++;
		}
	}
	mn__unlock(&mn_sched.slk);
	g = p->gfree;
	p->gfree = g->link;
	p->ngfree--;
	return g;
}

void mn__gfree(mn_p *p, mn_g *g)
{
	g->status = G_IDLE;
	g->link = p->gfree;
	p->gfree = g;
	if (++p->ngfree <= 2 * MN_G_CACHE)
		return;
	mn__lock(&mn_sched.slk);
	while (p->ngfree > MN_G_CACHE) {
		g = p->gfree;
		p->gfree = g->link;
		p->ngfree--;
		g->link = mn_sched.gfree;
		mn_sched.gfree = g;
		mn_sched.ngfree++;
	}
	mn__unlock(&mn_sched.slk);
}

/* The cache of p is empty: refill it from the global cache or a fresh slab. Runs on g0
 * only (see mn_direct): a slab's mmap, guard installation and bookkeeping take more frame
 * than a G's stack may have left. */
__attribute__((noinline)) int mn__stack_refill(mn_p *p)
{
	mn__lock(&mn_sched.slk);
	while (mn_sched.ngstacks && p->nstacks < MN_STACK_CACHE / 2)
		p->stacks[p->nstacks++] = mn_sched.gstacks[--mn_sched.ngstacks];
	mn__unlock(&mn_sched.slk);
	if (!p->nstacks) {
		coro_stack fresh[MN_SLAB];
		void *region;
		size_t rsize;
		if (coro_stack_alloc_many(fresh, MN_SLAB, mn_sched.stack_size, mn_sched.stack_guard,
					  &region, &rsize))
			return -1;
		coro_stack_populate_top(fresh, MN_SLAB); /* each will be used: fault in bulk */
		mn__lock(&mn_sched.slk);
		if (mn_sched.nslabs == mn_sched.slabcap) {
			int cap = mn_sched.slabcap ? 2 * mn_sched.slabcap : 64;
			void **s = realloc(mn_sched.slabs, sizeof(void *) * cap);
			size_t *z = s ? realloc(mn_sched.slab_sizes, sizeof(size_t) * cap) : NULL;
			if (s)
				mn_sched.slabs = s;
			if (!z) {
				mn__unlock(&mn_sched.slk);
				munmap(region, rsize);
				return -1;
			}
			mn_sched.slab_sizes = z;
			mn_sched.slabcap = cap;
		}
		mn_sched.slabs[mn_sched.nslabs] = region;
		mn_sched.slab_sizes[mn_sched.nslabs++] = rsize;
		mn__unlock(&mn_sched.slk);
		for (int i = 0; i < MN_SLAB; i++)
			p->stacks[p->nstacks++] = fresh[i];
	}
	return 0;
}

/* p's stack cache is full: move half of it to the global cache. */
void mn__stack_spill(mn_p *p)
{
	mn__lock(&mn_sched.slk);
	if (mn_sched.ngstacks + MN_STACK_CACHE / 2 > mn_sched.gstackcap) {
		int cap = mn_sched.gstackcap ? 2 * mn_sched.gstackcap : 1024;
		coro_stack *n = realloc(mn_sched.gstacks, sizeof(coro_stack) * cap);
		if (!n)
			mn__fatal("out of memory for the stack cache");
		mn_sched.gstacks = n;
		mn_sched.gstackcap = cap;
	}
	while (p->nstacks > MN_STACK_CACHE / 2)
		mn_sched.gstacks[mn_sched.ngstacks++] = p->stacks[--p->nstacks];
	mn__unlock(&mn_sched.slk);
}

/* The G stack (guard included) that holds addr: returns 1 and sets *owner (NULL for a free
 * stack) and *above, addr's distance above the stack's lowest byte (negative in its guard).
 * Slabs are laid out guard first, stride after stride (coro_stack_alloc_many). */
static int mn_stack_at(uintptr_t a, mn_g **owner, intptr_t *above)
{
	uintptr_t stride = mn_sched.stack_stride;
	for (int i = 0; stride && i < mn_sched.nslabs; i++) {
		uintptr_t base = (uintptr_t)mn_sched.slabs[i];
		if (a < base || a >= base + mn_sched.slab_sizes[i])
			continue;
		uintptr_t lo = a - (a - base) % stride + mn_sched.stack_guard;
		*above = (intptr_t)(a - lo);
		*owner = *mn__stack_owner(&(coro_stack){.lo = (void *)lo},
					  stride - mn_sched.stack_guard);
		return 1;
	}
	return 0;
}

static const void *mn_sig_sp(const void *ucv)
{
	const ucontext_t *uc = ucv;
#if defined(__x86_64__)
	return (const void *)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
	return (const void *)uc->uc_mcontext.sp;
#else
	(void)uc;
	return NULL;
#endif
}

static size_t mn_sigframe_reach(void);

/* A fault in a guard names the G that owns it. So does a fault the kernel raises itself
 * (SI_KERNEL, no address) while the interrupted stack pointer sits within a signal frame's
 * reach of a G stack's end: the kernel could not write the frame of a signal (SIGURG,
 * which runs on the G's stack) below that sp and killed the thread instead. That G has used
 * its stack up: a frame the size of the kernel's own no longer fits under it. */
void mn__sigsegv(int sig, siginfo_t *si, void *uc)
{
	mn_g *g = NULL;
	intptr_t above = 0;
	const char *why = NULL;
	if (mn_stack_at((uintptr_t)si->si_addr, &g, &above) && above < 0)
		why = "ran past";
	else if (si->si_code == SI_KERNEL && mn_stack_at((uintptr_t)mn_sig_sp(uc), &g, &above) &&
		 above < (intptr_t)(mn_sigframe_reach() + (size_t)sysconf(_SC_PAGESIZE)))
		why = "left no room for a signal frame on";
	if (why) {
		char msg[256];
		Dl_info di;
		if (g) {
			const char *name =
				dladdr((void *)g->fn, &di) && di.dli_sname ? di.dli_sname : "?";
			snprintf(msg, sizeof msg,
				 "task stack overflow: G %llu (entry %p %s) %s its %zu KiB stack",
				 (unsigned long long)g->id, (void *)g->fn, name, why,
				 mn_sched.stack_size / 1024);
		} else {
			snprintf(msg, sizeof msg, "fault in the guard of a free G stack at %p",
				 si->si_addr);
		}
		if (mn_sched.cfg.on_stack_overflow)
			mn_sched.cfg.on_stack_overflow(msg);
		dprintf(2, "mn: %s\n", msg);
	}
	signal(sig, SIG_DFL); /* re-executing the access now kills the process */
}

/* Memory a run leaves behind for the next one in the same process: the stack slabs (with
 * every stack in them free and its touched pages still resident) and the G blocks. A Go
 * process keeps its stack and heap spans the same way and returns them to the kernel
 * lazily; a repetition that follows another one therefore runs warm, as a long-lived Go
 * program does, and mn_config.cold (a workload that measures memory) starts from none. */
static struct mn_kept {
	void **slabs;
	size_t *slab_sizes;
	int nslabs, slabcap;
	coro_stack *stacks;
	int nstacks, stackcap;
	size_t stack_size;
	mn_g **gblocks;
	int ngblocks, gblockcap;
} mn_kept;

void mn_release(void)
{
	for (int i = 0; i < mn_kept.nslabs; i++)
		munmap(mn_kept.slabs[i], mn_kept.slab_sizes[i]);
	free(mn_kept.slabs);
	free(mn_kept.slab_sizes);
	free(mn_kept.stacks);
	for (int i = 0; i < mn_kept.ngblocks; i++)
		free(mn_kept.gblocks[i]);
	free(mn_kept.gblocks);
	memset(&mn_kept, 0, sizeof mn_kept);
}

size_t mn_kept_stacks(void)
{
	return (size_t)mn_kept.nstacks;
}

/* At the start of a run: adopt what the previous run kept (unless told to start cold or
 * the stack size differs). Every G of a kept block is free: the last run joined them all. */
void mn__adopt_kept(int cold)
{
	if (cold || mn_kept.stack_size != mn_sched.stack_size)
		mn_release();
	mn_sched.slabs = mn_kept.slabs;
	mn_sched.slab_sizes = mn_kept.slab_sizes;
	mn_sched.nslabs = mn_kept.nslabs;
	mn_sched.slabcap = mn_kept.slabcap;
	mn_sched.gstacks = mn_kept.stacks;
	mn_sched.ngstacks = mn_kept.nstacks;
	mn_sched.gstackcap = mn_kept.stackcap;
	mn_sched.allg_blocks = mn_kept.gblocks;
	mn_sched.nallg = mn_kept.ngblocks;
	mn_sched.allgcap = mn_kept.gblockcap;
	for (int b = 0; b < mn_sched.nallg; b++)
		for (int i = 0; i < MN_GBLOCK; i++) {
			mn_g *g = &mn_sched.allg_blocks[b][i];
			g->status = G_IDLE;
			g->link = mn_sched.gfree;
			mn_sched.gfree = g;
			mn_sched.ngfree++;
		}
	memset(&mn_kept, 0, sizeof mn_kept);
}

/* At the end of a run: hand the stacks (the Ps' caches included) and G blocks to the next
 * run. */
void mn__keep_stacks(void)
{
	int total = mn_sched.ngstacks;
	for (int i = 0; i < mn_sched.nprocs; i++)
		total += mn_sched.allp[i].nstacks;
	coro_stack *all = total > mn_sched.gstackcap
				  ? realloc(mn_sched.gstacks, sizeof(coro_stack) * (size_t)total)
				  : mn_sched.gstacks;
	if (all) {
		mn_sched.gstacks = all;
		if (total > mn_sched.gstackcap)
			mn_sched.gstackcap = total;
		for (int i = 0; i < mn_sched.nprocs; i++) {
			mn_p *p = &mn_sched.allp[i];
			while (p->nstacks)
				mn_sched.gstacks[mn_sched.ngstacks++] = p->stacks[--p->nstacks];
		}
	}
	mn_kept = (struct mn_kept){
		mn_sched.slabs, mn_sched.slab_sizes, mn_sched.nslabs, mn_sched.slabcap,
		mn_sched.gstacks, mn_sched.ngstacks, mn_sched.gstackcap, mn_sched.stack_size,
		mn_sched.allg_blocks, mn_sched.nallg, mn_sched.allgcap};
	if (!all && total) /* no memory to list the Ps' stacks: let everything go */
		mn_release();
}

/* The guard below each G stack. mn and the code run on G stacks are built with
 * -fstack-clash-protection (Makefile), so no compiled frame moves the stack pointer a page
 * or more without touching each page on the way. What remains is the kernel's signal
 * frame (SIGURG lands on the G's stack), written below the 128-byte red zone in one piece,
 * lowest address first: the guard must be deeper than the largest frame the kernel builds
 * (AT_MINSIGSTKSZ: 3.3 KiB with AVX-512, ~11 KiB with AMX), and at least MN_GUARD_MIN for
 * library code built without probes. A guard region costs address space only. */
#define MN_GUARD_MIN (16 * 1024)
#define MN_RED_ZONE 128

/* How far below the interrupted sp the kernel writes a signal frame. */
static size_t mn_sigframe_reach(void)
{
	return (size_t)getauxval(AT_MINSIGSTKSZ) + MN_RED_ZONE;
}

size_t mn__guard_size(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t guard = mn_sigframe_reach() + page;
	if (guard < MN_GUARD_MIN)
		guard = MN_GUARD_MIN;
	return (guard + page - 1) & ~(page - 1);
}

/* ---- sudogs ------------------------------------------------------------------------------ */

#define MN_SUDOG_BLOCK 64 /* sudogs allocated at a time */

typedef struct mn_sudog_block {
	void *next;
	mn_sudog s[MN_SUDOG_BLOCK];
} mn_sudog_block;

/* p's sudog cache is empty: refill half of it from the global list or a fresh block; returns
 * one. */
mn_sudog *mn__sudog_refill(mn_p *p)
{
	mn__lock(&mn_sched.slk);
	while (mn_sched.sudogs && p->nsudogs < MN_SUDOG_CACHE / 2) {
		mn_sudog *s = mn_sched.sudogs;
		mn_sched.sudogs = s->next;
		mn_sched.nsudogs--;
		s->next = p->sudogs;
		p->sudogs = s;
		p->nsudogs++;
	}
	if (!p->nsudogs) {
		mn_sudog_block *b = calloc(1, sizeof *b);
		if (!b)
			mn__fatal("out of memory for sudogs");
		b->next = mn_sched.sudog_blocks;
		mn_sched.sudog_blocks = b;
		for (int i = 0; i < MN_SUDOG_BLOCK; i++) {
			b->s[i].next = p->sudogs;
			p->sudogs = &b->s[i];
		}
		p->nsudogs = MN_SUDOG_BLOCK;
	}
	mn__unlock(&mn_sched.slk);
	mn_sudog *s = p->sudogs;
	p->sudogs = s->next;
	p->nsudogs--;
	return s;
}

/* p's cache is twice its size (Gs park on one P and resume on another): half to the global
 * list. */
void mn__sudog_spill(mn_p *p)
{
	mn__lock(&mn_sched.slk);
	while (p->nsudogs > MN_SUDOG_CACHE) {
		mn_sudog *s = p->sudogs;
		p->sudogs = s->next;
		p->nsudogs--;
		s->next = mn_sched.sudogs;
		mn_sched.sudogs = s;
		mn_sched.nsudogs++;
	}
	mn__unlock(&mn_sched.slk);
}

/* At a run's end (before the Ms are freed) every G has ended, so every sudog is free. */
void mn__sudog_free_all(void)
{
	for (mn_sudog_block *b = mn_sched.sudog_blocks, *n; b; b = n) {
		n = b->next;
		free(b);
	}
	mn_sched.sudog_blocks = NULL;
	mn_sched.sudogs = NULL;
	for (int i = 0; i < mn_sched.nprocs; i++) {
		mn_sched.allp[i].sudogs = NULL;
		mn_sched.allp[i].nsudogs = 0;
	}
	for (mn_m *m = mn_sched.allm; m; m = m->alllink)
		m->sudog = NULL;
}
