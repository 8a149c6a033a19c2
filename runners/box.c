/* box.c: what the machine around a run looks like: the CPUs this process may use (its CPU
 * affinity and its cgroup's CPU quota, as Go 1.25 and libuv's uv_available_parallelism
 * count them, not the online CPUs), and the noise counters recorded beside every
 * repetition (steal time, CPU pressure, load average). */
#include <dirent.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "util.h"

/* ---- usable CPUs ------------------------------------------------------------------- */

int cb_affinity_cpus(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* quota / period from a cgroup v2 cpu.max ("max 100000" or "150000 100000") or from v1's
 * two files; 0 when unlimited or unreadable. */
static double v2_quota(const char *file)
{
	FILE *f = fopen(file, "r");
	if (!f)
		return 0;
	char q[32] = "";
	double period = 0;
	int got = fscanf(f, "%31s %lf", q, &period);
	fclose(f);
	if (got != 2 || !strcmp(q, "max") || period <= 0)
		return 0;
	double quota = atof(q);
	return quota > 0 ? quota / period : 0;
}

static double v1_quota(const char *dir)
{
	char p[1400];
	double quota = 0, period = 0;
	snprintf(p, sizeof p, "%s/cpu.cfs_quota_us", dir);
	FILE *f = fopen(p, "r");
	if (!f)
		return 0;
	int ok = fscanf(f, "%lf", &quota) == 1;
	fclose(f);
	snprintf(p, sizeof p, "%s/cpu.cfs_period_us", dir);
	if (!ok || !(f = fopen(p, "r")))
		return 0;
	ok = fscanf(f, "%lf", &period) == 1;
	fclose(f);
	return ok && quota > 0 && period > 0 ? quota / period : 0; /* quota -1: unlimited */
}

/* The smallest quota on the way from dir up to root (a parent's limit binds its children). */
static double min_up(const char *root, const char *rel, int v2)
{
	char path[1024];
	snprintf(path, sizeof path, "%s", rel);
	double best = 0;
	for (;;) {
		char dir[1200], file[1300];
		snprintf(dir, sizeof dir, "%s%s", root, path);
		double q;
		if (v2) {
			snprintf(file, sizeof file, "%s/cpu.max", dir);
			q = v2_quota(file);
		} else {
			q = v1_quota(dir);
		}
		if (q > 0 && (best == 0 || q < best))
			best = q;
		char *slash = strrchr(path, '/');
		if (!slash || (slash == path && !path[1]))
			break;
		if (slash == path)
			path[1] = 0;
		else
			*slash = 0;
	}
	return best;
}

/* Whether a v1 controller list ("cpu,cpuacct") names ctl. */
static int has_controller(const char *list, const char *ctl)
{
	size_t n = strlen(ctl);
	for (const char *p = list; *p;) {
		size_t l = strcspn(p, ",");
		if (l == n && !strncmp(p, ctl, n))
			return 1;
		p += l + (p[l] == ',');
	}
	return 0;
}

double cb_cgroup_quota_cpus(const char *sysfs, const char *proc_cgroup)
{
	FILE *f = fopen(proc_cgroup, "r");
	if (!f)
		return 0;
	char line[1024];
	double best = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		/* "0::/path" (v2) or "4:cpu,cpuacct:/path" (v1) */
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = 0;
		const char *ctl = c1 + 1, *rel = c2 + 1;
		double q = 0;
		char root[600];
		if (!*ctl) {
			q = min_up(sysfs, rel, 1);
		} else if (has_controller(ctl, "cpu")) {
			static const char *const mounts[] = {"cpu", "cpu,cpuacct", "cpuacct,cpu"};
			for (size_t i = 0; i < sizeof mounts / sizeof *mounts && q == 0; i++) {
				snprintf(root, sizeof root, "%s/%s", sysfs, mounts[i]);
				q = min_up(root, rel, 0);
			}
		}
		if (q > 0 && (best == 0 || q < best))
			best = q;
	}
	fclose(f);
	return best;
}

int cb_usable_cpus_of(int affinity, double quota)
{
	int n = affinity > 0 ? affinity : 1;
	/* A quota of 1.5 CPUs lets two threads run most of the time: round up, as Go does. */
	if (quota > 0 && (int)ceil(quota) < n)
		n = (int)ceil(quota);
	return n > 0 ? n : 1;
}

int cb_ncpu(void)
{
	static int cached;
	if (!cached)
		cached = cb_usable_cpus_of(cb_affinity_cpus(),
					   cb_cgroup_quota_cpus("/sys/fs/cgroup", "/proc/self/cgroup"));
	return cached;
}

/* ---- a core for the load generator ------------------------------------------------ */

int cb_split_client_cpu(int workers)
{
	/* the affinity the process had before the first split (the next repetition's threads
	 * are pinned already) */
	static cpu_set_t all;
	static int have;
	if (!have) {
		CPU_ZERO(&all);
		if (sched_getaffinity(0, sizeof all, &all) < 0)
			return -1;
		have = 1;
	}
	cpu_set_t set = all;
	if (cb_ncpu() <= workers || CPU_COUNT(&set) <= workers)
		return -1;
	int client = CPU_SETSIZE - 1;
	while (!CPU_ISSET(client, &set))
		client--;
	CPU_CLR(client, &set);
	/* every thread the server has now; the ones it starts later inherit from these */
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			sched_setaffinity((pid_t)atoi(e->d_name), sizeof set, &set);
	closedir(d);
	return client;
}

/* ---- noise ------------------------------------------------------------------------- */

void cb_noise_sample(cb_noise *n)
{
	memset(n, 0, sizeof *n);
	FILE *f = fopen("/proc/stat", "r");
	if (f) {
		/* cpu  user nice system idle iowait irq softirq steal ... (in USER_HZ ticks) */
		unsigned long long v[8] = {0};
		if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			   &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
			long hz = sysconf(_SC_CLK_TCK);
			n->steal_ns = (uint64_t)v[7] * (1000000000ull / (uint64_t)(hz > 0 ? hz : 100));
		}
		fclose(f);
	}
	f = fopen("/proc/pressure/cpu", "r");
	if (f) {
		char line[256];
		while (fgets(line, sizeof line, f)) {
			const char *t = strstr(line, "total=");
			if (!strncmp(line, "some ", 5) && t) {
				n->psi_cpu_us = strtoull(t + 6, NULL, 10);
				n->have_psi = 1;
			}
		}
		fclose(f);
	}
	double la[1];
	if (getloadavg(la, 1) == 1)
		n->loadavg1 = la[0];
}

cb_noise cb_noise_delta(const cb_noise *a, const cb_noise *b)
{
	cb_noise d = *a;
	d.steal_ns = b->steal_ns >= a->steal_ns ? b->steal_ns - a->steal_ns : 0;
	d.have_psi = a->have_psi && b->have_psi;
	d.psi_cpu_us = d.have_psi && b->psi_cpu_us >= a->psi_cpu_us ? b->psi_cpu_us - a->psi_cpu_us : 0;
	return d;
}
