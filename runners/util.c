/* util.c: clocks, strict parsing and fatal usage errors (see util.h). */
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>
#include <unistd.h>

int cb_parse_int(const char *s, int64_t *out)
{
	if (!s || !*s)
		return -1;
	const char *p = s;
	int neg = 0;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (!isdigit((unsigned char)*p))
		return -1;
	int64_t v = 0;
	for (; isdigit((unsigned char)*p); p++) {
		int d = *p - '0';
		if (v > (INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	int64_t mul = 1;
	if (*p == 'k' || *p == 'K')
		mul = 1000, p++;
	else if (*p == 'M')
		mul = 1000000, p++;
	else if (*p == 'G')
		mul = 1000000000, p++;
	if (*p)
		return -1;
	if (v > INT64_MAX / mul)
		return -1;
	*out = neg ? -v * mul : v * mul;
	return 0;
}

void cb_usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

int64_t cb_num_arg(const char *opt, const char *v, int64_t lo, int64_t hi)
{
	int64_t x;
	if (cb_parse_int(v, &x) < 0)
		cb_usage_error("%s %s: not a number", opt, v);
	if (x < lo || x > hi)
		cb_usage_error("%s %s: out of range %" PRId64 "..%" PRId64, opt, v, lo, hi);
	return x;
}

static int64_t pss_of(const char *pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%s/smaps_rollup", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int64_t kb = -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "Pss:", 4) == 0) {
			kb = strtoll(line + 4, NULL, 10);
			break;
		}
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

int64_t cb_mem_group_pss(void)
{
	pid_t pgid = getpgrp();
	DIR *d = opendir("/proc");
	if (!d)
		return -1;
	int64_t total = 0;
	int found = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid_t pid = (pid_t)atoi(e->d_name);
		if (getpgid(pid) != pgid)
			continue;
		int64_t b = pss_of(e->d_name);
		if (b > 0)
			total += b, found = 1;
	}
	closedir(d);
	return found ? total : -1;
}

long long cb_read_sysctl(const char *path)
{
	FILE *f = fopen(path, "r");
	long long v = -1;
	if (f) {
		if (fscanf(f, "%lld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

void cb_limit_min(cb_limit *l, int64_t v, const char *fmt, ...)
{
	if (v >= l->best)
		return;
	l->best = v;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->why, sizeof l->why, fmt, ap);
	va_end(ap);
}

void cb_limit_init(cb_limit *l)
{
	l->best = INT64_MAX;
	l->why[0] = 0;
	long long v = cb_read_sysctl("/proc/sys/kernel/threads-max");
	if (v > 0)
		cb_limit_min(l, v, "kernel.threads-max = %lld", v);
	if ((v = cb_read_sysctl("/proc/sys/kernel/pid_max")) > 0)
		cb_limit_min(l, v, "kernel.pid_max = %lld", v);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		cb_limit_min(l, (int64_t)rl.rlim_cur, "RLIMIT_NPROC = %lld", (long long)rl.rlim_cur);
}

int64_t cb_limit_result(const cb_limit *l)
{
	return l->best == INT64_MAX ? 0 : l->best - l->best / 10;
}
