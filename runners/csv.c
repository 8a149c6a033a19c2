/* csv.c: row formatting and whole-row appends (see csv.h). */
#include "csv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef CB_GIT_REV
#define CB_GIT_REV "unknown"
#endif

void cb_utc_now(char *buf, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void cpu_model(char *out, size_t n)
{
	snprintf(out, n, "unknown");
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof line, f)) {
		/* x86 says "model name", arm64 often only "CPU part"; take the first found. */
		if (!strncmp(line, "model name", 10) || !strncmp(line, "Model", 5)) {
			char *c = strchr(line, ':');
			if (c) {
				c++;
				while (*c == ' ' || *c == '\t')
					c++;
				c[strcspn(c, "\n")] = 0;
				snprintf(out, n, "%s", c);
				break;
			}
		}
	}
	fclose(f);
}

void cb_meta_fill(cb_meta *m, const char *run_id)
{
	memset(m, 0, sizeof *m);
	struct utsname u;
	uname(&u);
	snprintf(m->host, sizeof m->host, "%s", u.nodename);
	snprintf(m->kernel, sizeof m->kernel, "%.40s %.80s", u.sysname, u.release);
	cpu_model(m->cpu_model, sizeof m->cpu_model);
	m->ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
#if defined(__clang__)
	snprintf(m->cc, sizeof m->cc, "clang %s", __clang_version__);
#elif defined(__GNUC__)
	snprintf(m->cc, sizeof m->cc, "gcc %s", __VERSION__);
#else
	snprintf(m->cc, sizeof m->cc, "unknown");
#endif
	snprintf(m->git_rev, sizeof m->git_rev, "%s", CB_GIT_REV);
	if (run_id && *run_id)
		snprintf(m->run_id, sizeof m->run_id, "%s", run_id);
	else {
		char utc[32];
		cb_utc_now(utc, sizeof utc);
		snprintf(m->run_id, sizeof m->run_id, "%.90s-%.31s", m->host, utc);
	}
}

/* Append s as one CSV field: quoted when it holds a comma, quote, CR or LF. */
static int field(char *buf, size_t n, size_t *at, const char *s, int last)
{
	int quote = strpbrk(s, ",\"\r\n") != NULL;
	size_t need = strlen(s) * 2 + 4;
	if (*at + need >= n)
		return -1;
	char *p = buf + *at;
	if (quote)
		*p++ = '"';
	for (; *s; s++) {
		if (*s == '"')
			*p++ = '"';
		*p++ = *s;
	}
	if (quote)
		*p++ = '"';
	if (last) {
		*p++ = '\r';
		*p++ = '\n';
	} else
		*p++ = ',';
	*at = (size_t)(p - buf);
	return 0;
}

static const char *i64(char *slot, int64_t v)
{
	snprintf(slot, 32, "%" PRId64, v);
	return slot;
}

static const char *u64(char *slot, uint64_t v)
{
	snprintf(slot, 32, "%" PRIu64, v);
	return slot;
}

int cb_csv_format(const cb_meta *m, const cb_row *r, char *buf, size_t n)
{
	/* Rows that measured nothing (unsupported, crash, ...) leave measurements empty. */
	int ok = !strcmp(r->status, "ok") || !strcmp(r->status, "mismatch");
	int lat = ok && r->has_lat;
	char s[20][32], rate[40];
	snprintf(rate, sizeof rate, "%.1f", r->ops_per_s);
	const char *f[] = {
		CB_SCHEMA, m->run_id, r->utc, m->host, m->cpu_model, i64(s[0], m->ncpu), m->kernel,
		m->cc, m->git_rev, r->backend, r->workload, i64(s[1], r->tasks),
		i64(s[2], r->workers), i64(s[3], r->size), r->params, i64(s[4], r->rep),
		ok ? i64(s[5], r->wall_ns) : "", ok ? i64(s[6], r->user_ns) : "",
		ok ? i64(s[7], r->sys_ns) : "", ok ? i64(s[8], r->maxrss_kb) : "",
		ok ? u64(s[9], r->ops) : "", ok ? rate : "",
		lat ? u64(s[10], r->p50_ns) : "", lat ? u64(s[11], r->p99_ns) : "",
		lat ? u64(s[12], r->max_ns) : "", ok ? i64(s[13], r->os_threads) : "",
		ok ? i64(s[14], r->processes) : "", ok ? i64(s[15], r->vol_ctxsw) : "",
		ok ? i64(s[16], r->invol_ctxsw) : "", r->has_checksum ? u64(s[17], r->checksum) : "",
		r->status, r->note,
	};
	size_t at = 0, nf = sizeof f / sizeof *f;
	for (size_t i = 0; i < nf; i++)
		if (field(buf, n, &at, f[i], i + 1 == nf) < 0)
			return -1;
	buf[at] = 0;
	return (int)at;
}

int cb_csv_check_writable(const char *path, char *why, size_t n)
{
	struct stat st;
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return snprintf(why, n, "is a directory"), -1;
		/* Opening for append (without creating or writing) is the only honest test:
		 * access() says yes to root for files that refuse every write, like /proc's. */
		int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd < 0)
			return snprintf(why, n, "%s", strerror(errno)), -1;
		close(fd);
		if (!S_ISREG(st.st_mode) || strncmp(path, "/proc/", 6) == 0 || strncmp(path, "/sys/", 5) == 0)
			return snprintf(why, n, "not a regular file"), -1;
		return 0;
	}
	if (errno != ENOENT)
		return snprintf(why, n, "%s", strerror(errno)), -1;
	char *copy = strdup(path);
	const char *dir = dirname(copy);
	int r = 0;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		r = -1, snprintf(why, n, "folder %s does not exist", dir);
	else if (access(dir, W_OK | X_OK) != 0)
		r = -1, snprintf(why, n, "folder %s is not writable", dir);
	free(copy);
	return r;
}

int cb_csv_append(const char *path, const char *row, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	/* Two writers (say two `bench run` at once) must not interleave header and rows. */
	flock(fd, LOCK_EX);
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) == 0 && st.st_size == 0) {
		size_t hl = strlen(CB_CSV_HEADER);
		if (write(fd, CB_CSV_HEADER, hl) != (ssize_t)hl)
			r = -1;
	}
	if (r == 0 && write(fd, row, len) != (ssize_t)len)
		r = -1;
	int e = errno;
	close(fd);
	errno = e;
	return r;
}
