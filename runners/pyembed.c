/* pyembed.c: start the embedded CPython once per process and run Python twins in it.
 *
 * The interpreter is started lazily by the first pyembed_run of the cell's process (cells
 * run in their own child process, so no two cells share it) and lives until the process
 * exits: finalizing and re-initializing CPython is not reliable with extension modules, and
 * keeping it is what a long-lived Python program does. Between repetitions the twin's
 * module stays imported; everything a run creates (threads, pools, loops) is ended by the
 * twin itself, and twin.call collects garbage after each run.
 *
 * The interpreter gets an isolated configuration (no PYTHON* environment variables, no user
 * site-packages) so that a row does not depend on the shell it ran from, and leaves signal
 * handlers to the harness. A builtin module, _concbench, lets twins report the OS threads and
 * processes they create (cb_stat_thread / cb_stat_process), like the C backends do, and read
 * the cell's resident memory (cb_mem_group_pss). */
#if __has_include(<Python.h>)
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define PYEMBED_HAVE_PYTHON 1
#endif

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pyembed.h"
#include "util.h"

#ifndef PYEMBED_HAVE_PYTHON

void pyembed_run(const char *workload, const char *model, const char *args, pyembed_result *out)
{
	(void)workload, (void)model, (void)args, (void)out;
	cb_abort("unsupported", "built without libpython3: install libpython3-dev and rebuild");
}

#else

static PyObject *pyembed_call_fn; /* twin.call(workload, model, args) -> dict */

/* ---- the _concbench builtin module ---------------------------------------------------- */

static PyObject *pyembed_stat_thread(PyObject *self, PyObject *arg)
{
	(void)self;
	long d = PyLong_AsLong(arg);
	if (d == -1 && PyErr_Occurred())
		return NULL;
	cb_stat_thread((int)d);
	Py_RETURN_NONE;
}

static PyObject *pyembed_stat_process(PyObject *self, PyObject *arg)
{
	(void)self;
	long d = PyLong_AsLong(arg);
	if (d == -1 && PyErr_Occurred())
		return NULL;
	cb_stat_process((int)d);
	Py_RETURN_NONE;
}

static PyObject *pyembed_mem_pss(PyObject *self, PyObject *unused)
{
	(void)self, (void)unused;
	return PyLong_FromLongLong((long long)cb_mem_group_pss());
}

static PyMethodDef pyembed_methods[] = {
	{"stat_thread", pyembed_stat_thread, METH_O, "count OS threads started (+n) or ended (-n)"},
	{"stat_process", pyembed_stat_process, METH_O, "count processes started or ended"},
	{"mem_pss", pyembed_mem_pss, METH_NOARGS,
	 "resident memory (PSS, bytes) of every process of the cell, or -1"},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef pyembed_module = {
	PyModuleDef_HEAD_INIT, "_concbench", "the concbench harness, seen from a Python twin", -1,
	pyembed_methods, NULL, NULL, NULL, NULL,
};

static PyObject *pyembed_module_init(void)
{
	return PyModule_Create(&pyembed_module);
}

/* ---- startup -------------------------------------------------------------------------- */

/* workloads/py: $CB_PYDIR, else next to the executable or up to three levels above it
 * (./bench, build/bench, build/tests/test_x), else below the working directory. */
static int pyembed_find_dir(char *dir, size_t n)
{
	const char *env = getenv("CB_PYDIR");
	if (env && *env) {
		snprintf(dir, n, "%s", env);
		return 0;
	}
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (len > 0) {
		exe[len] = '\0';
		for (int up = 0; up < 4; up++) {
			char *slash = strrchr(exe, '/');
			if (!slash)
				break;
			*slash = '\0';
			int w = snprintf(dir, n, "%s/workloads/py/twin.py", exe);
			if (w > 0 && (size_t)w < n && access(dir, R_OK) == 0) {
				dir[w - (int)strlen("/twin.py")] = '\0';
				return 0;
			}
		}
	}
	if (access("workloads/py/twin.py", R_OK) == 0 && getcwd(exe, sizeof exe)) {
		int w = snprintf(dir, n, "%s/workloads/py", exe);
		return w > 0 && (size_t)w < n ? 0 : -1;
	}
	return -1;
}

/* The last line of the pending exception, as Python prints it ("ValueError: bad size"). */
static void pyembed_exception_line(char *buf, size_t n, int *unsupported)
{
	PyObject *type, *value, *tb;
	PyErr_Fetch(&type, &value, &tb);
	PyErr_NormalizeException(&type, &value, &tb);
	*unsupported = 0;
	snprintf(buf, n, "Python exception (unprintable)");
	PyObject *twin = PyImport_ImportModule("twin");
	if (twin && value) {
		PyObject *cls = PyObject_GetAttrString(twin, "Unsupported");
		*unsupported = cls && PyObject_IsInstance(value, cls) == 1;
		Py_XDECREF(cls);
	}
	Py_XDECREF(twin);
	PyObject *text = NULL;
	if (*unsupported) {
		text = PyObject_Str(value);
	} else {
		PyObject *tbmod = PyImport_ImportModule("traceback");
		PyObject *lines = tbmod ? PyObject_CallMethod(tbmod, "format_exception_only", "OO",
							       type ? type : Py_None,
							       value ? value : Py_None)
					: NULL;
		if (lines && PyList_Check(lines) && PyList_Size(lines) > 0) {
			text = PyList_GetItem(lines, PyList_Size(lines) - 1);
			Py_INCREF(text);
		}
		Py_XDECREF(lines);
		Py_XDECREF(tbmod);
	}
	const char *s = text ? PyUnicode_AsUTF8(text) : NULL;
	if (s) {
		snprintf(buf, n, "%s", s);
		size_t l = strlen(buf);
		while (l > 0 && (buf[l - 1] == '\n' || buf[l - 1] == ' '))
			buf[--l] = '\0';
	}
	Py_XDECREF(text);
	PyErr_Clear();
	Py_XDECREF(type);
	Py_XDECREF(value);
	Py_XDECREF(tb);
}

_Noreturn static void pyembed_fail(const char *what)
{
	char line[400];
	int unsupported;
	pyembed_exception_line(line, sizeof line, &unsupported);
	if (unsupported)
		cb_abort("unsupported", "%s", line);
	cb_abort("error", "%s%s", what, line);
}

static void pyembed_start(void)
{
	char dir[PATH_MAX];
	if (pyembed_find_dir(dir, sizeof dir) != 0)
		cb_abort("error", "cannot find workloads/py/twin.py (set CB_PYDIR)");
	if (PyImport_AppendInittab("_concbench", pyembed_module_init) != 0)
		cb_abort("error", "cannot register the _concbench module");

	PyConfig config;
	PyConfig_InitIsolatedConfig(&config);
	config.install_signal_handlers = 0; /* SIGINT belongs to the harness */
	config.write_bytecode = 0;          /* leave no __pycache__ in the source tree */
	PyStatus st = PyConfig_SetBytesString(&config, &config.program_name, "python3");
	if (!PyStatus_Exception(st))
		st = Py_InitializeFromConfig(&config);
	PyConfig_Clear(&config);
	if (PyStatus_Exception(st))
		cb_abort("error", "cannot start CPython: %s", st.err_msg ? st.err_msg : "?");

	PyObject *path = PySys_GetObject("path"); /* borrowed */
	PyObject *d = PyUnicode_DecodeFSDefault(dir);
	if (!path || !d || PyList_Insert(path, 0, d) != 0)
		pyembed_fail("cannot extend sys.path: ");
	Py_DECREF(d);
	PyObject *twin = PyImport_ImportModule("twin");
	if (!twin)
		pyembed_fail("cannot import twin.py: ");
	pyembed_call_fn = PyObject_GetAttrString(twin, "call");
	Py_DECREF(twin);
	if (!pyembed_call_fn)
		pyembed_fail("twin.py: ");
	/* Release the GIL: the harness thread holds it only while it calls into Python. */
	PyEval_SaveThread();
}

static int pyembed_get_u64(PyObject *dict, const char *key, uint64_t *v)
{
	PyObject *o = PyDict_GetItemString(dict, key); /* borrowed */
	if (!o || o == Py_None)
		return 0;
	*v = PyLong_AsUnsignedLongLongMask(o);
	if (PyErr_Occurred())
		pyembed_fail("twin result: ");
	return 1;
}

void pyembed_run(const char *workload, const char *model, const char *args, pyembed_result *out)
{
	if (!Py_IsInitialized())
		pyembed_start();
	memset(out, 0, sizeof *out);
	PyGILState_STATE gs = PyGILState_Ensure();
	uint64_t t0 = cb_now_ns();
	PyObject *res = PyObject_CallFunction(pyembed_call_fn, "sss", workload, model, args);
	out->wall_ns = cb_now_ns() - t0;
	if (!res)
		pyembed_fail("");
	if (!PyDict_Check(res))
		cb_abort("error", "twin %s returned no dict", workload);
	if (!pyembed_get_u64(res, "checksum", &out->checksum))
		cb_abort("error", "twin %s returned no checksum", workload);
	out->has_ops = pyembed_get_u64(res, "ops", &out->ops);
	out->has_lat = pyembed_get_u64(res, "p50_ns", &out->p50_ns);
	if (out->has_lat) {
		pyembed_get_u64(res, "p99_ns", &out->p99_ns);
		pyembed_get_u64(res, "max_ns", &out->max_ns);
	}
	PyObject *note = PyDict_GetItemString(res, "note");
	const char *s = note && PyUnicode_Check(note) ? PyUnicode_AsUTF8(note) : NULL;
	if (s)
		snprintf(out->note, sizeof out->note, "%s", s);
	Py_DECREF(res);
	PyGILState_Release(gs);
}

#endif
