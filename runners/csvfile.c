/* csvfile.c: runs.csv on disk, whole rows or none (see csv.h).
 *
 * The promise is that a runs.csv never holds half a row and that losing a row is never
 * silent. Three rules keep it:
 *  - Before a run: an existing file is appended to only if it starts with a header of a
 *    schema the scripts read and every record in it is whole (an older version's
 *    interrupted write, or another program's CSV, is refused with the line it is on).
 *  - Each row: opened by path (so a removed file or folder is noticed, not written into an
 *    unlinked inode), locked (two writers do not interleave), written whole; a short or
 *    failed write is cut back with ftruncate to the size before it.
 *  - The caller stops the run at the first failed append (cell.c, CB_EXIT_LOST).
 * The record scanner is the one RFC 4180 state machine of the harness: it checks existing
 * files here and every row a cell sends before it is appended (cell.c). */
#include "csv.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char cb_csv_header_v1[] =
	"schema,run_id,utc,host,cpu_model,ncpu,kernel,cc,git_rev,backend,workload,tasks,"
	"workers,size,params,rep,wall_ns,user_ns,sys_ns,maxrss_kb,ops,ops_per_s,p50_ns,"
	"p99_ns,max_ns,os_threads,processes,vol_ctxsw,invol_ctxsw,checksum,status,note\r\n";

/* Schemas whose files may be appended to: this version's and the older ones the scripts
 * read. A row's first field says its schema; its field count must be that header's. */
static const struct {
	const char *schema, *header;
} known[] = {
	{CB_SCHEMA, CB_CSV_HEADER},
	{"1", cb_csv_header_v1},
};
enum { NKNOWN = sizeof known / sizeof *known };

int cb_csv_scan_record(const char *s, size_t n, size_t *len)
{
	enum { START, PLAIN, QUOTED, QUOTE_SEEN } st = START;
	int fields = 1;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (st == QUOTED) {
			if (ch == '"')
				st = QUOTE_SEEN;
			continue;
		}
		if (st == QUOTE_SEEN && ch == '"') { /* "" inside a quoted field */
			st = QUOTED;
			continue;
		}
		if (ch == ',') {
			fields++;
			st = START;
		} else if (ch == '\n' || (ch == '\r' && i + 1 < n && s[i + 1] == '\n')) {
			*len = i + 1 + (ch == '\r');
			return fields;
		} else if (ch == '\r') {
			if (i + 1 == n)
				return -1; /* the \n may be what is missing */
			return -2;         /* a bare CR outside quotes */
		} else if (ch == '"') {
			if (st != START)
				return -2;
			st = QUOTED;
		} else {
			if (st == QUOTE_SEEN)
				return -2;
			st = PLAIN;
		}
	}
	return -1;
}

static int header_fields(const char *h)
{
	size_t len;
	return cb_csv_scan_record(h, strlen(h), &len);
}

/* Up to max bytes of s for a message, control characters shown as '?'. */
static void excerpt(char *out, size_t n, const char *s, size_t len, size_t max)
{
	size_t k = 0;
	for (size_t i = 0; i < len && i < max && k + 1 < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\r' || ch == '\n')
			break;
		out[k++] = ch < 0x20 ? '?' : (char)ch;
	}
	out[k] = 0;
	if (len > max && k + 4 < n)
		strcat(out, "...");
}

/* The content of an existing file: a known header, then whole records of known schemas. */
static int check_content(const char *s, size_t n, char *why, size_t wn)
{
	int hk = -1;
	for (int i = 0; i < NKNOWN && hk < 0; i++) {
		size_t hl = strlen(known[i].header);
		if (n >= hl && !memcmp(s, known[i].header, hl))
			hk = i;
	}
	if (hk < 0) {
		char ex[64], schemas[64] = "";
		excerpt(ex, sizeof ex, s, n, 40);
		for (int i = 0; i < NKNOWN; i++) /* "2 or 1", each once */
			if (!strstr(schemas, known[i].schema))
				snprintf(schemas + strlen(schemas), sizeof schemas - strlen(schemas), "%s%s",
					 *schemas ? " or " : "", known[i].schema);
		return snprintf(why, wn, "not a concbench runs.csv (line 1 is \"%s\", not a header "
					 "of schema %s); give a new file", ex, schemas), -1;
	}
	int line = 2;
	for (size_t at = strlen(known[hk].header); at < n;) {
		size_t len = 0;
		int nf = cb_csv_scan_record(s + at, n - at, &len);
		if (nf == -1)
			return snprintf(why, wn, "line %d: the file ends in a half row (an interrupted "
						 "write); remove that line or use a new file", line), -1;
		if (nf == -2)
			return snprintf(why, wn, "line %d: not RFC 4180 CSV (a stray quote or CR)", line), -1;
		size_t sl = strcspn(s + at, ",\r\n");
		int want = -1;
		for (int i = 0; i < NKNOWN && want < 0; i++)
			if (strlen(known[i].schema) == sl && !memcmp(s + at, known[i].schema, sl))
				want = header_fields(known[i].header);
		if (want < 0) {
			char ex[32];
			excerpt(ex, sizeof ex, s + at, sl, 16);
			return snprintf(why, wn, "line %d: a row of unknown schema \"%s\"", line, ex), -1;
		}
		if (nf != want)
			return snprintf(why, wn, "line %d: a half or damaged row (%d fields, schema %.*s "
						 "has %d)", line, nf, (int)sl, s + at, want), -1;
		for (size_t i = 0; i < len; i++)
			line += s[at + i] == '\n';
		at += len;
	}
	return 0;
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
		if (st.st_size == 0)
			return 0;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return snprintf(why, n, "%s", strerror(errno)), -1;
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		int e = errno;
		close(fd);
		if (m == MAP_FAILED)
			return snprintf(why, n, "cannot read: %s", strerror(e)), -1;
		int r = check_content(m, (size_t)st.st_size, why, n);
		munmap(m, (size_t)st.st_size);
		return r;
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

/* Write all of buf, or fail with errno (ENOSPC when the file system takes only part). */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0)
			return errno = ENOSPC, -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

int cb_csv_append(const char *path, const char *row, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	/* Two writers (say two `bench run` at once) must not interleave header and rows. */
	flock(fd, LOCK_EX);
	struct stat st = {.st_size = -1};
	int r = fstat(fd, &st);
	if (r == 0 && st.st_size == 0)
		r = write_all(fd, CB_CSV_HEADER, strlen(CB_CSV_HEADER));
	if (r == 0)
		r = write_all(fd, row, len);
	int e = errno;
	/* Cut back whatever part of the header or row got in: the file ends in a whole row. */
	if (r < 0 && st.st_size >= 0 && ftruncate(fd, st.st_size) < 0)
		(void)0; /* nothing more to do; the caller reports the write's own error */
	close(fd);
	errno = e;
	return r;
}

int cb_csv_check_text(const char *s, size_t max, char *why, size_t n)
{
	size_t len = strlen(s);
	if (len > max)
		return snprintf(why, n, "%zu bytes, at most %zu", len, max), -1;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		if (*p < 0x20 || *p == 0x7f)
			return snprintf(why, n, "control character 0x%02x at byte %zu", *p,
					(size_t)(p - (const unsigned char *)s)), -1;
		/* UTF-8: a lead byte, then its continuation bytes (no overlongs or surrogates) */
		int extra = *p < 0x80 ? 0 : *p >= 0xc2 && *p <= 0xdf ? 1 : *p >= 0xe0 && *p <= 0xef ? 2
			  : *p >= 0xf0 && *p <= 0xf4 ? 3 : -1;
		int ok = extra >= 0;
		for (int k = 1; ok && k <= extra; k++)
			ok = (p[k] & 0xc0) == 0x80;
		if (ok && extra == 2)
			ok = !(*p == 0xe0 && p[1] < 0xa0) && !(*p == 0xed && p[1] >= 0xa0);
		if (ok && extra == 3)
			ok = !(*p == 0xf0 && p[1] < 0x90) && !(*p == 0xf4 && p[1] >= 0x90);
		if (!ok)
			return snprintf(why, n, "not UTF-8 at byte %zu",
					(size_t)(p - (const unsigned char *)s)), -1;
		p += 1 + extra;
	}
	return 0;
}

const char *cb_csv_cause(int err)
{
	switch (err) {
	case ENOSPC:
	case EDQUOT: return "disk full";
	case EFBIG: return "file size limit reached";
	case ENOENT: return "file or its folder removed";
	case EROFS: return "read-only file system";
	case EACCES:
	case EPERM: return "permission denied";
	default: return strerror(err);
	}
}
