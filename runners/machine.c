/* machine.c: machine.json, what a reader needs to compare two run folders: CPU model and
 * flags, cores, caches, memory, kernel, governor, turbo, ASLR, load, compiler and library
 * versions (the Go and Node of the reference backends too). Read from /proc and /sys; a value
 * that cannot be read is null, never guessed. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <uv.h>
#include <gnu/libc-version.h>

#include "harness.h"
#include "util.h"

#if __has_include(<patchlevel.h>)
#include <patchlevel.h>
#endif

static void json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* First line of a file, trimmed, or NULL. */
static char *read_line(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *r = fgets(buf, (int)n, f);
	fclose(f);
	if (!r)
		return NULL;
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

/* First line a command prints (a reference runtime's version), or NULL when it is not
 * installed or prints nothing. */
static char *tool_line(const char *cmd, char *buf, size_t n)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return NULL;
	char *r = fgets(buf, (int)n, p);
	int st = pclose(p);
	if (!r || st != 0)
		return NULL;
	buf[strcspn(buf, "\n")] = 0;
	return *buf ? buf : NULL;
}

/* Value of "key : value" in /proc/cpuinfo or /proc/meminfo. */
static char *proc_field(const char *path, const char *key, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char line[8192];
	char *found = NULL;
	size_t kl = strlen(key);
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, key, kl) || (line[kl] != ' ' && line[kl] != '\t' && line[kl] != ':'))
			continue;
		char *c = strchr(line, ':');
		if (!c)
			continue;
		c++;
		while (*c == ' ' || *c == '\t')
			c++;
		c[strcspn(c, "\n")] = 0;
		snprintf(buf, n, "%s", c);
		found = buf;
		break;
	}
	fclose(f);
	return found;
}

#define NOISE_PROBE_RUNS 20
#define NOISE_PROBE_ITERS 2000000 /* about 1-2 ms of integer work a run on a current core */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

void cb_noise_probe(cb_probe *p)
{
	uint64_t t[NOISE_PROBE_RUNS];
	for (int r = 0; r < NOISE_PROBE_RUNS; r++) {
		volatile uint64_t x = 1;
		uint64_t t0 = cb_now_ns();
		for (int i = 0; i < NOISE_PROBE_ITERS; i++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
		t[r] = cb_now_ns() - t0;
	}
	qsort(t, NOISE_PROBE_RUNS, sizeof *t, cmp_u64);
	p->runs = NOISE_PROBE_RUNS;
	p->min_ns = t[0];
	p->max_ns = t[NOISE_PROBE_RUNS - 1];
	p->median_ns = (t[NOISE_PROBE_RUNS / 2 - 1] + t[NOISE_PROBE_RUNS / 2]) / 2;
}

static void json_probe(FILE *f, const char *name, const cb_probe *p, int have)
{
	fprintf(f, ",\n  \"%s\": ", name);
	if (!have) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\"runs\": %d, \"median_ns\": %" PRIu64 ", \"min_ns\": %" PRIu64
		", \"max_ns\": %" PRIu64 ", \"spread\": %.3f}", p->runs, p->median_ns, p->min_ns,
		p->max_ns, p->min_ns ? (double)p->max_ns / (double)p->min_ns : 0.0);
}

int cb_machine_json(const char *path, const cb_meta *m, const cb_machine_info *mi)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	char b[8192], utc[32];
	struct utsname u;
	uname(&u);
	cb_utc_now(utc, sizeof utc);
	fputs("{\n  \"schema\": 1,\n  \"run_id\": ", f);
	json_str(f, m->run_id);
	fputs(",\n  \"utc\": ", f);
	json_str(f, utc);
	fputs(",\n  \"host\": ", f);
	json_str(f, m->host);
	fputs(",\n  \"cpu_model\": ", f);
	json_str(f, m->cpu_model);
	fputs(",\n  \"arch\": ", f);
	json_str(f, u.machine);
	fprintf(f, ",\n  \"ncpu_online\": %ld,\n  \"ncpu_configured\": %ld", sysconf(_SC_NPROCESSORS_ONLN),
		sysconf(_SC_NPROCESSORS_CONF));
	double quota = cb_cgroup_quota_cpus("/sys/fs/cgroup", "/proc/self/cgroup");
	fprintf(f, ",\n  \"cpus_usable\": %d,\n  \"cpus_affinity\": %d,\n  \"cgroup_cpu_quota\": ",
		cb_ncpu(), cb_affinity_cpus());
	if (quota > 0)
		fprintf(f, "%.3f", quota);
	else
		fputs("null", f);
	if (mi) {
		fprintf(f, ",\n  \"seed\": %" PRIu64 ",\n  \"rounds\": %d,\n  \"min_time_ms\": %d,"
			   "\n  \"cell_budget_ms\": %d",
			mi->seed, mi->rounds, mi->min_time_ms, mi->cell_budget_ms);
		json_probe(f, "noise_probe_start", &mi->probe_start, 1);
		json_probe(f, "noise_probe_end", &mi->probe_end, mi->have_end);
	}
	fputs(",\n  \"cpu_flags\": ", f);
	json_str(f, proc_field("/proc/cpuinfo", "flags", b, sizeof b)
			    ? b : proc_field("/proc/cpuinfo", "Features", b, sizeof b));
	fputs(",\n  \"cpu_mhz\": ", f);
	json_str(f, proc_field("/proc/cpuinfo", "cpu MHz", b, sizeof b));
	fputs(",\n  \"caches\": {", f);
	for (int i = 0, first = 1; i < 8; i++) {
		char p[128], lvl[16], type[32], size[32];
		snprintf(p, sizeof p, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
		if (!read_line(p, lvl, sizeof lvl))
			break;
		snprintf(p, sizeof p, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
		if (!read_line(p, type, sizeof type))
			continue;
		snprintf(p, sizeof p, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
		if (!read_line(p, size, sizeof size))
			continue;
		fprintf(f, "%s\"L%s %s\": ", first ? "" : ", ", lvl, type);
		json_str(f, size);
		first = 0;
	}
	fputs("},\n  \"mem_total\": ", f);
	json_str(f, proc_field("/proc/meminfo", "MemTotal", b, sizeof b));
	fputs(",\n  \"kernel\": ", f);
	json_str(f, m->kernel);
	fputs(",\n  \"kernel_version\": ", f);
	json_str(f, u.version);
	fputs(",\n  \"governor\": ", f);
	json_str(f, read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", b, sizeof b));
	char boost[64];
	const char *turbo = read_line("/sys/devices/system/cpu/intel_pstate/no_turbo", boost, sizeof boost);
	fputs(",\n  \"intel_no_turbo\": ", f);
	json_str(f, turbo);
	fputs(",\n  \"cpufreq_boost\": ", f);
	json_str(f, read_line("/sys/devices/system/cpu/cpufreq/boost", boost, sizeof boost));
	/* Scaling is "on" when a cpufreq driver can move the clock; VMs often expose none. */
	char gov[64];
	const char *g = read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", gov, sizeof gov);
	fputs(",\n  \"cpu_scaling\": ", f);
	fputs(!g ? "null" : strcmp(g, "performance") ? "true" : "false", f);
	fputs(",\n  \"aslr\": ", f);
	const char *aslr = read_line("/proc/sys/kernel/randomize_va_space", b, sizeof b);
	fputs(!aslr ? "null" : strcmp(aslr, "0") ? "true" : "false", f);
	double la[3] = {0};
	fputs(",\n  \"loadavg\": ", f);
	if (getloadavg(la, 3) == 3)
		fprintf(f, "[%.2f, %.2f, %.2f]", la[0], la[1], la[2]);
	else
		fputs("null", f);
	fputs(",\n  \"virtualization\": ", f);
	json_str(f, proc_field("/proc/cpuinfo", "flags", b, sizeof b) && strstr(b, "hypervisor")
			    ? "hypervisor" : "none seen");
	fputs(",\n  \"cc\": ", f);
	json_str(f, m->cc);
	fputs(",\n  \"cflags\": ", f);
	json_str(f, CB_CFLAGS);
	fputs(",\n  \"git_rev\": ", f);
	json_str(f, m->git_rev);
	fputs(",\n  \"libuv\": ", f);
	json_str(f, uv_version_string());
	fputs(",\n  \"python\": ", f);
#ifdef PY_VERSION
	json_str(f, PY_VERSION);
#else
	json_str(f, NULL);
#endif
	/* The runtimes go-ref and node-ref ran (the twins are run from PATH). */
	fputs(",\n  \"go\": ", f);
	json_str(f, tool_line("go version 2>/dev/null", b, sizeof b));
	fputs(",\n  \"node\": ", f);
	json_str(f, tool_line("node --version 2>/dev/null", b, sizeof b));
	fputs(",\n  \"libc\": ", f);
	json_str(f, gnu_get_libc_version());
	fputs("\n}\n", f);
	/* on disk before the rename, so that a crash leaves the old file or the whole new one */
	int bad = fflush(f) != 0 || fsync(fileno(f)) != 0 || ferror(f);
	if (fclose(f) != 0 || bad) {
		unlink(tmp);
		return -1;
	}
	return rename(tmp, path);
}
