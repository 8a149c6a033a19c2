/* mn_preempt.c: async preemption of mn: the SIGURG handler that switches a G away from inside
 * it, the checks that make that safe, and the thread-local lookups it must never interrupt.
 * sysmon (mn_sysmon.c) decides which G to signal, and when.
 *
 * Async preemption safety. The SIGURG handler runs on the G's own stack (SIGURG blocked)
 * and, when it decides to preempt, switches away from inside the handler; the G resumes
 * later, maybe on another M, by returning from the handler, and sigreturn restores every
 * register (the handler first rewrites the saved signal mask and alternate stack to those
 * of the thread it now runs on). The handler preempts only when all of these hold:
 *   1. the G is not inside the runtime: every mn entry point raises g->in_rt before it
 *      touches shared state and lowers it as its last act, and a G is always resumed
 *      inside the runtime, so runtime locks, half-updated queues and the switch itself are
 *      never interrupted. The two lookups a G makes before raising in_rt (its M and G from
 *      thread-local storage) live in a linker section, mn_nopreempt, that the handler
 *      treats as runtime code;
 *   2. the interrupted PC lies in the executable's own text, and libc (with malloc and
 *      its locks) is a separate shared object: a G inside libc, the vDSO or any shared
 *      library is left alone and sysmon signals again 1 ms later. When malloc resolves
 *      inside the executable (static libc, a statically linked sanitizer runtime: the
 *      Makefile links clang's ASan runtime shared for that reason) async preemption is
 *      switched off altogether, and so it is under ThreadSanitizer, which runs handlers
 *      deferred from its own frames (mn_preempt_enabled says which);
 *   3. the G is running, not in a syscall, and is the one sysmon asked to preempt (its P's
 *      schedule tick has not moved since).
 * Limits. Workload code that keeps the address of a thread-local variable (errno included:
 * glibc declares __errno_location const) in a register across a preemption could use
 * another thread's copy after migrating; the task API keeps errno inside the runtime's
 * calls. Code that libc calls back (qsort comparators, pthread_once routines) runs in own
 * text above libc's frames and locks and could be preempted and migrated there: such calls
 * go between mn_nopreempt_begin and mn_nopreempt_end (mn.h), which raise in_rt. The SIGSEGV
 * and SIGBUS handlers block SIGURG: they run on the M's alternate stack, where a switch
 * would save a G's context.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <ucontext.h>

#include "mn_impl.h"

/* Thread-local lookups. A G that switches may resume on another thread, so no compiler may
 * reuse a TLS address computed before a switch, and a G calls these before it has entered
 * the runtime (g->in_rt still 0): preempted between loading its M and loading the M's
 * current G, mn__getg would resume on another thread holding the old thread's M. So they
 * are assembly (mn_tls_<arch>.S), which no compiler inlines, in the section mn_nopreempt
 * that the preemption handler treats as runtime code; tests/test_mn.c checks that no other
 * code reads mn_tls_m. Other targets get C (never preempted: mn_sig_pc knows no PC there). */
#if defined(__x86_64__) || defined(__aarch64__)
#define MN_TLS_ASM 1
#endif
__attribute__((visibility("hidden"))) _Thread_local mn_m *mn_tls_m;
extern const char __start_mn_nopreempt[], __stop_mn_nopreempt[];
_Static_assert(offsetof(mn_m, curg) == 0, "mn__getg reads curg at offset 0 of an M");

#ifndef MN_TLS_ASM
__attribute__((noinline, section("mn_nopreempt"))) mn_m *mn__getm(void)
{
	return mn_tls_m;
}

__attribute__((noinline, section("mn_nopreempt"))) mn_g *mn__getg(void)
{
	mn_m *m = mn_tls_m;
	return m ? m->curg : NULL;
}

__attribute__((noinline, section("mn_nopreempt"))) void mn__setm(mn_m *m)
{
	mn_tls_m = m;
}

/* errno's address belongs to the thread, and glibc declares __errno_location const: code
 * that touches errno after a possible switch goes through this, inside the runtime. */
__attribute__((noinline, section("mn_nopreempt"))) int *mn__errno(void)
{
	return &errno;
}
#endif

void mn_nopreempt_begin(void)
{
	mn__enter(mn__getg()); /* in_rt > 0: the SIGURG handler leaves the G alone */
}

void mn_nopreempt_end(void)
{
	mn__leave(mn__getg());
}

#define MN_TEXT_SEGS 8 /* executable segments of the program's own text we record */
static const void *mn_text_lo[MN_TEXT_SEGS], *mn_text_hi[MN_TEXT_SEGS];
static int mn_ntext, mn_preempt_ok;
static _Atomic uint64_t mn_npreempt; /* switches inside the SIGURG handler */

static int mn_phdr_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	int *first = arg;
	if (*first) { /* the executable itself comes first */
		*first = 0;
		for (int i = 0; i < info->dlpi_phnum && mn_ntext < MN_TEXT_SEGS; i++) {
			const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
			if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
				mn_text_lo[mn_ntext] = (const char *)info->dlpi_addr + ph->p_vaddr;
				mn_text_hi[mn_ntext++] =
					(const char *)info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
			}
		}
	}
	return 0;
}

static int mn_in_text(const void *pc)
{
	if ((const char *)pc >= __start_mn_nopreempt && (const char *)pc < __stop_mn_nopreempt)
		return 0;
	for (int i = 0; i < mn_ntext; i++)
		if (pc >= mn_text_lo[i] && pc < mn_text_hi[i])
			return 1;
	return 0;
}

void mn__text_init(void)
{
	if (mn_ntext)
		return;
	int first = 1;
	dl_iterate_phdr(mn_phdr_cb, &first);
	/* malloc (and its locks) must live outside the text we preempt in */
	void *mal = dlsym(RTLD_DEFAULT, "malloc");
	mn_preempt_ok = mn_ntext > 0 && mal && !mn_in_text(mal);
#ifdef CORO_TSAN
	/* ThreadSanitizer defers a signal handler to its next interceptor or sync point, which
	 * runs it from libtsan's frames with none of the interrupted PC's guarantees: a switch
	 * there would be unsound, and the handler would refuse every time anyway. Off, said. */
	mn_preempt_ok = 0;
#endif
}

uint64_t mn_preemptions(void)
{
	return atomic_load(&mn_npreempt);
}

int mn_preempt_enabled(void)
{
	mn__text_init();
	return mn_preempt_ok;
}

static const void *mn_sig_pc(void *ucv)
{
	ucontext_t *uc = ucv;
#if defined(__x86_64__)
	return (const void *)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
	return (const void *)uc->uc_mcontext.pc;
#else
	(void)uc;
	return NULL; /* unknown layout: never preempt */
#endif
}

static void mn_preempt_hook(mn_g *prev, void *arg)
{
	(void)arg;
	mn__gq_put1(prev); /* like Go: a preempted G goes to the global queue */
	/* This thread left its SIGURG handler by switching G, so the kernel never unblocked
	 * SIGURG for it: do it now, or none of its next Gs could be preempted. */
	sigset_t urg;
	sigemptyset(&urg);
	sigaddset(&urg, SIGURG);
	pthread_sigmask(SIG_UNBLOCK, &urg, NULL);
}

/* SIGURG, SIGURG blocked while it runs. Checks everything listed in the design comment,
 * then parks the G from inside the handler; when the G is resumed (maybe on another M) the
 * handler returns and sigreturn restores the interrupted registers. */
void mn__sigurg(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	(void)si;
	ucontext_t *uc = ucv;
	int saved = *mn__errno();
	mn_m *m = mn__getm();
	if (m)
		m->sigurgs++; /* a blocking call this cut short is restarted (mn_restart.c) */
	mn_g *g = m ? m->curg : NULL;
	mn_p *p = m ? m->p : NULL;
	if (!g || !p || g->in_rt || g->status != G_RUNNING || !mn_preempt_ok ||
	    atomic_load(&p->status) != P_RUNNING || !atomic_load(&p->preempt_req) ||
	    atomic_load(&p->preempt_tick) != atomic_load(&p->schedtick) ||
	    !mn_in_text(mn_sig_pc(uc))) {
		*mn__errno() = saved;
		return;
	}
	atomic_store(&p->preempt_req, 0);
	g->in_rt = 1;
	atomic_fetch_add_explicit(&mn_npreempt, 1, memory_order_relaxed);
	g->status = G_RUNNABLE;
	/* As Go's schedule() does, look at the P's timers before choosing: a sleeper whose
	 * deadline passed behind this G (often why it is preempted) runs next. */
	int64_t t = mn__now();
	if (atomic_load_explicit(&p->tnext, memory_order_relaxed) <= t)
		mn__timers_run(p, t);
	mn__switch(g, mn__next_local(p), mn_preempt_hook, NULL);
	/* Resumed, perhaps on another thread: sigreturn must restore this thread's own signal
	 * mask and alternate stack, not those of the thread the signal was taken on. */
	mn_m *now = g->m;
	pthread_sigmask(SIG_SETMASK, NULL, &uc->uc_sigmask);
	sigdelset(&uc->uc_sigmask, SIGURG);
	uc->uc_stack = (stack_t){.ss_sp = now->altstack, .ss_size = MN_ALTSTACK};
	*mn__errno() = saved; /* the G's errno, on whichever thread resumed it */
	g->in_rt = 0;         /* last: from here on a new preemption is harmless */
}
