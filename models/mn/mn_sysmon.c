/* mn_sysmon.c: sysmon, mn's monitor thread, which runs without a P: it retakes Ps stuck in
 * system calls, preempts Gs that have run too long (mn_preempt.c does the switch), polls the
 * network when nobody has, starts Ms for work that waits while Ps sit idle, and runs the
 * passes that shrink the stacks of long-parked Gs (mn_shrink.c). What it does and why is in
 * the design comment of mn_sched.c; how long it sleeps, in mn_sysmon. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mn_impl.h"

/* sysmon's clock, as Go's sysmon names its own (forcePreemptNS and the 20 us / 10 ms of its
 * delay): */
#define MN_SYSMON_FAST_NS 20000     /* poll period while syscalls are made or it just acted */
#define MN_SYSMON_MAX_NS 10000000   /* the longest it sleeps while some P runs */
#define MN_SYSMON_QUIET_ROUNDS 50   /* fast rounds without acting before it sleeps longer */
#define MN_POLL_NS 10000000         /* it polls the network when nobody has for this long */
#define MN_TIMER_PREEMPT_NS 1000000 /* a G that has run this long yields to an overdue timer */
#define MN_RESIGNAL_NS 1000000      /* a G left alone (unsafe place, blocked thread): again */

static _Atomic int mn_sysmon_word;
_Atomic int mn__sysmon_asleep;

/* sysmon sleeps without a timeout while every P is idle; the first P to get busy again
 * wakes it. */
void mn__sysmon_wake(void)
{
	if (atomic_exchange(&mn__sysmon_asleep, 0)) {
		atomic_store(&mn_sysmon_word, 1);
		mn__futex_wake(&mn_sysmon_word);
	}
}

/* sysmon sleeps until the next deadline it knows of (mn_sysmon_until); a sleeper whose
 * deadline comes earlier, parked behind a G that may keep the P, wakes it to recompute. */
static _Atomic int64_t mn_sysmon_until;

void mn__sysmon_deadline(int64_t when)
{
	if (when < atomic_load_explicit(&mn_sysmon_until, memory_order_relaxed) &&
	    !atomic_exchange(&mn_sysmon_word, 1))
		mn__futex_wake(&mn_sysmon_word);
}

static pthread_t mn_sysmon_thread;
/* Is m's thread blocked in the kernel (a system call its G made without entersyscall:
 * usleep, poll, a blocking read)? Then a preemption signal would only cut that call short:
 * nanosleep, poll, epoll_wait and select fail with EINTR even under SA_RESTART. The state
 * is the one after the command name in /proc/self/task/<tid>/stat: S or D while blocked,
 * R while running or runnable. Read by sysmon only, before it signals; a G that blocks in
 * the microseconds between this look and the signal can still get EINTR. */
static int mn_thread_blocked(mn_m *m, int tid)
{
	char buf[512];
	if (m->statfd < 0) {
		snprintf(buf, sizeof buf, "/proc/self/task/%d/stat", tid);
		m->statfd = open(buf, O_RDONLY | O_CLOEXEC);
		if (m->statfd < 0)
			return 0;
	}
	ssize_t n = pread(m->statfd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	const char *paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && (paren[2] == 'S' || paren[2] == 'D');
}

static void *mn_sysmon(void *arg)
{
	(void)arg;
	/* How long sysmon sleeps. Go polls every 20 us while it has acted recently, backing
	 * off to 10 ms. Here it polls every 20 us only while system calls are being made (a P
	 * in a syscall must be retaken ~20 us in) or it has just acted, and otherwise sleeps
	 * until the next thing it has to do: the running Gs' preemption deadlines, a sleeper's
	 * deadline behind a G that has had 1 ms, the next network poll; at most `cap`, so that
	 * a G that started meanwhile is noticed (preempted at most cap late). Polling every
	 * 20 us throughout a CPU-bound run cost ~10% of a core, taken from the Gs. */
	const int64_t fast = MN_SYSMON_FAST_NS;
	int64_t cap = MN_SYSMON_MAX_NS;
	int quiet = 0;             /* rounds since sysmon last acted or saw a system call */
	if (mn_sched.preempt_ns > 0 && mn_sched.preempt_ns / 5 < cap)
		cap = mn_sched.preempt_ns / 5;
	if (cap < fast)
		cap = fast;
	int64_t wait = fast;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	int shrink_pending = 0;    /* parked Gs the last shrink pass left: keep sysmon awake */
	while (!atomic_load(&mn_sched.stopping)) {
		if (atomic_load(&mn_sched.npidle) == mn_sched.nprocs && !shrink_pending) {
			/* nothing runs: nothing to preempt or retake; a blocked poller owns the
			 * timers. Sleep until a P is acquired (or the run stops). */
			atomic_store(&mn__sysmon_asleep, 1);
			if (atomic_load(&mn_sched.npidle) == mn_sched.nprocs)
				wait = -1;
			else
				atomic_store(&mn__sysmon_asleep, 0);
		}
		mn__futex_wait(&mn_sysmon_word, 0, wait);
		atomic_store(&mn_sysmon_word, 0);
		if (wait < 0) {
			atomic_store(&mn__sysmon_asleep, 0);
			quiet = 0;
		}
		if (atomic_load(&mn_sched.stopping))
			break;
		int64_t now = mn__now(), next = now + cap;
		/* the longest this round may sleep, published before the Ps are looked at: a
		 * deadline set during the look and missed by it still wakes sysmon */
		atomic_store(&mn_sysmon_until, next);
		int acted = 0;
		if (mn__netpoll_waiters() && !atomic_load(&mn_sched.polling)) {
			int64_t due = atomic_load(&mn_sched.last_poll) + MN_POLL_NS;
			if (now >= due) {
				mn_g *list = mn__netpoll(0);
				if (list) {
					mn__inject(list);
					acted = 1;
				}
				due = now + MN_POLL_NS;
			}
			if (due < next)
				next = due;
		}
		if (atomic_load(&mn_sched.npidle) && !atomic_load(&mn_sched.nmspinning) &&
		    !atomic_load(&mn_sched.polling)) {
			int64_t t = mn__timers_next();
			if (t <= now) {
				mn__wakep(); /* overdue timers and nobody to run them */
				acted = 1;
			} else if (t < next) {
				next = t;
			}
		}
		for (int i = 0; i < mn_sched.nprocs; i++) {
			mn_p *p = &mn_sched.allp[i];
			int st = atomic_load(&p->status);
			uint32_t sct = atomic_load(&p->syscalltick);
			if (p->sm_sctick != sct) {
				p->sm_sctick = sct; /* system calls are being made: poll fast */
				p->sm_sctime = now;
				quiet = 0;
			}
			if (st == P_SYSCALL) {
				quiet = 0;
				if (now - p->sm_sctime >= mn_sched.syscall_ns &&
				    atomic_compare_exchange_strong(&p->status, &st, P_IDLE)) {
					mn__handoffp(p);
					acted = 1;
				}
			} else if (st == P_RUNNING) {
				uint32_t t = atomic_load_explicit(&p->schedtick, memory_order_relaxed);
				mn_m *pm = atomic_load(&p->m);
				int tid = pm ? atomic_load(&pm->tid) : 0;
				int stuck = p->sm_tick == t; /* same G as at the last look */
				if (!stuck) {
					p->sm_tick = t;
					p->sm_when = now;
				}
				if (mn_sched.preempt_ns <= 0 || !tid)
					continue;
				/* due: the G's time slice is up, or a sleeper's deadline has passed
				 * behind a G that has had 1 ms (Go would let it wait out the 10 ms) */
				int64_t tn = atomic_load(&p->tnext);
				int64_t due = p->sm_when + mn_sched.preempt_ns;
				int64_t early = p->sm_when + MN_TIMER_PREEMPT_NS;
				if (tn > early)
					early = tn;
				if (tn != INT64_MAX && early < due)
					due = early;
				if (due < p->sm_signalled + MN_RESIGNAL_NS) /* again every 1 ms while */
					due = p->sm_signalled + MN_RESIGNAL_NS; /* the G sits unsafe */
				if (stuck && now >= due && mn_thread_blocked(pm, tid)) {
					p->sm_signalled = now; /* look again in 1 ms */
					due = now + MN_RESIGNAL_NS;
				} else if (stuck && now >= due) {
					atomic_store(&p->preempt_tick, t);
					atomic_store(&p->preempt_req, 1);
					p->sm_signalled = now;
					syscall(SYS_tgkill, (int)getpid(), tid, SIGURG);
					due = now + MN_RESIGNAL_NS;
				}
				if (due < next)
					next = due;
				if (stuck && !mn__runq_empty(p) && atomic_load(&mn_sched.npidle) &&
				    !atomic_load(&mn_sched.nmspinning)) {
					mn__wakep(); /* work queued behind a G that kept the P a tick */
					acted = 1;
				}
			}
		}
		int64_t sh = mn__shrink_tick(now, &shrink_pending);
		if (sh < next)
			next = sh;
		if (acted)
			quiet = 0;
		if (quiet++ < MN_SYSMON_QUIET_ROUNDS) {
			wait = fast;
		} else {
			wait = next - now;
			if (wait < fast)
				wait = fast;
			if (wait > cap)
				wait = cap;
		}
		atomic_store(&mn_sysmon_until, now + wait);
	}
	return NULL;
}

void mn__sysmon_start(void)
{
	mn_sysmon_word = 0; /* as the last run's sysmon may have left it */
	if (pthread_create(&mn_sysmon_thread, NULL, mn_sysmon, NULL))
		mn__fatal("cannot start sysmon");
}

/* The run is stopping: wake sysmon wherever it sleeps and wait for it to end. */
void mn__sysmon_stop(void)
{
	atomic_store(&mn__sysmon_asleep, 0);
	atomic_store(&mn_sysmon_word, 1);
	mn__futex_wake(&mn_sysmon_word);
	pthread_join(mn_sysmon_thread, NULL);
}
