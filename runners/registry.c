/* registry.c: the one place where backends and workloads are listed. Backends that live
 * in optional parts of the tree are weak references: the table skips those not linked in. */
#include <string.h>

#include "workload.h"

#define BACKEND(id) extern const cb_backend cb_backend_##id __attribute__((weak));
#define WORKLOAD(id) extern const cb_workload cb_wl_##id;
#include "registry.h"
#undef BACKEND
#undef WORKLOAD

const cb_backend *const cb_backends[] = {
#define BACKEND(id) &cb_backend_##id,
#define WORKLOAD(id)
#include "registry.h"
#undef BACKEND
#undef WORKLOAD
	NULL,
};

const size_t cb_nbackends = sizeof cb_backends / sizeof *cb_backends - 1;

const cb_workload *const cb_workloads[] = {
#define BACKEND(id)
#define WORKLOAD(id) &cb_wl_##id,
#include "registry.h"
#undef BACKEND
#undef WORKLOAD
	NULL,
};

const cb_backend *cb_backend_find(const char *name)
{
	for (size_t i = 0; i < cb_nbackends; i++)
		if (cb_backends[i] && strcmp(cb_backends[i]->name, name) == 0)
			return cb_backends[i];
	return NULL;
}

const cb_workload *cb_workload_find(const char *name)
{
	for (size_t i = 0; cb_workloads[i]; i++)
		if (strcmp(cb_workloads[i]->name, name) == 0)
			return cb_workloads[i];
	return NULL;
}
