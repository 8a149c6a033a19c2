/* csv.h: the results schema (DESIGN.md) and an RFC 4180 writer that writes each row whole. */
#ifndef CB_CSV_H
#define CB_CSV_H

#include <stddef.h>
#include <stdint.h>

#define CB_SCHEMA "1"
#define CB_CSV_HEADER                                                                      \
	"schema,run_id,utc,host,cpu_model,ncpu,kernel,cc,git_rev,backend,workload,tasks,"  \
	"workers,size,params,rep,wall_ns,user_ns,sys_ns,maxrss_kb,ops,ops_per_s,p50_ns,"   \
	"p99_ns,max_ns,os_threads,processes,vol_ctxsw,invol_ctxsw,checksum,status,note\r\n"

/* Machine and build metadata carried by every row. */
typedef struct cb_meta {
	char run_id[128], host[128], cpu_model[160], kernel[128], cc[96], git_rev[48];
	int ncpu;
} cb_meta;

typedef struct cb_row {
	char utc[32];
	const char *backend, *workload;
	int64_t tasks, workers, size;
	char params[512];
	int rep;
	int64_t wall_ns, user_ns, sys_ns, maxrss_kb;
	uint64_t ops;
	double ops_per_s;
	int has_lat;
	uint64_t p50_ns, p99_ns, max_ns;
	int os_threads, processes;
	int64_t vol_ctxsw, invol_ctxsw;
	int has_checksum;
	uint64_t checksum;
	const char *status;
	char note[600];
} cb_row;

void cb_meta_fill(cb_meta *m, const char *run_id);
void cb_utc_now(char *buf, size_t n); /* 2026-11-27T09:44:44Z */

/* Format one row, CRLF-terminated, into buf. Returns its length, or -1 if it does not fit. */
int cb_csv_format(const cb_meta *m, const cb_row *r, char *buf, size_t n);

/* Check that a CSV file can be created or appended to without creating it. 0 or -1 with
 * a reason in why. */
int cb_csv_check_writable(const char *path, char *why, size_t n);
/* Append one formatted row to path with a single write, writing the header first if the
 * file is new or empty. Returns 0 or -1 (errno). */
int cb_csv_append(const char *path, const char *row, size_t len);

#endif
