/* util.h: small helpers shared by the harness, workloads and backends: clocks, strict
 * number parsing, fatal usage errors. */
#ifndef CB_UTIL_H
#define CB_UTIL_H

#include <stdint.h>
#include <time.h>

static inline uint64_t cb_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Parse a decimal integer with an optional k/M/G suffix (x1000, x1e6, x1e9). Returns 0 on
 * success, -1 if s is not such a number or overflows. */
int cb_parse_int(const char *s, int64_t *out);

/* The value of option opt, a number in lo..hi, or a usage error naming both. */
int64_t cb_num_arg(const char *opt, const char *v, int64_t lo, int64_t hi);

/* Print "bench: <message>" on one line and exit with status 2 (bad input). */
_Noreturn void cb_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* CPUs this process may use: its affinity, capped by its cgroup's CPU quota (box.c); the
 * default worker count and what the suite's matrix scales with. */
int cb_ncpu(void);
int cb_affinity_cpus(void);
/* CPUs' worth of quota (quota / period, the smallest on the way up the hierarchy) of the
 * cgroups named in proc_cgroup (/proc/self/cgroup) under sysfs (/sys/fs/cgroup); 0 when
 * unlimited. Parameters so that a test can point it at a fake tree. */
double cb_cgroup_quota_cpus(const char *sysfs, const char *proc_cgroup);
int cb_usable_cpus_of(int affinity, double quota);

/* Proportional set size of every process in the calling process's group, in bytes
 * (resident memory without double-counting shared pages); -1 if unreadable. */
int64_t cb_mem_group_pss(void);

/* The OS's limit on tasks (threads or processes) this process tree may create:
 * cb_limit_init takes the smallest of kernel.threads-max, kernel.pid_max and RLIMIT_NPROC,
 * cb_limit_min lowers it with a backend's own limit, and cb_limit_result leaves a tenth to
 * the rest of the system (0: nothing limits). why names the limit that binds. */
typedef struct cb_limit {
	int64_t best;
	char why[160];
} cb_limit;
void cb_limit_init(cb_limit *l);
void cb_limit_min(cb_limit *l, int64_t v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int64_t cb_limit_result(const cb_limit *l);
/* The first number in a /proc/sys file, or -1. */
long long cb_read_sysctl(const char *path);

#endif
