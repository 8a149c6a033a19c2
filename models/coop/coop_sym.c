/* coop_sym.c: the name of a task's function, for aloop's slow-task warning (asyncio prints
 * the coroutine's qualified name) and for both loops' stack-overflow report. dladdr only knows exported symbols, and the workloads' task
 * functions are static, so the executable's own symbol table (.symtab, kept unless the
 * binary is stripped) is searched; dladdr's answer, then file+offset, are the fallbacks. */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coop.h"

/* Symbol of the function containing file-relative address off in the ELF file at path. */
static int symtab_lookup(const char *path, uintptr_t off, char *out, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	void *map = MAP_FAILED;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size >= sizeof(ElfW(Ehdr)))
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -1;
	int found = -1;
	const unsigned char *b = map;
	const ElfW(Ehdr) *eh = map;
	size_t size = (size_t)st.st_size;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_shoff == 0 ||
	    eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > size)
		goto out;
	const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(b + eh->e_shoff);
	for (int i = 0; i < eh->e_shnum && found < 0; i++) {
		if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum)
			continue;
		const ElfW(Shdr) *strs = &sh[sh[i].sh_link];
		if (sh[i].sh_offset + sh[i].sh_size > size || strs->sh_offset + strs->sh_size > size)
			continue;
		const ElfW(Sym) *sym = (const ElfW(Sym) *)(b + sh[i].sh_offset);
		size_t count = sh[i].sh_size / sizeof *sym;
		for (size_t k = 0; k < count; k++) {
			if (ELF64_ST_TYPE(sym[k].st_info) != STT_FUNC || sym[k].st_name >= strs->sh_size)
				continue;
			if (off >= sym[k].st_value && off < sym[k].st_value + (sym[k].st_size ? sym[k].st_size : 1)) {
				snprintf(out, n, "%s", (const char *)b + strs->sh_offset + sym[k].st_name);
				found = 0;
				break;
			}
		}
	}
out:
	munmap(map, size);
	return found;
}

void coop_fn_name(const void *fn, char *out, size_t n)
{
	Dl_info di;
	if (!dladdr(fn, &di) || !di.dli_fname) {
		snprintf(out, n, "%p", fn);
		return;
	}
	uintptr_t off = (uintptr_t)fn - (uintptr_t)di.dli_fbase;
	/* the main program's dli_fname is argv[0]-like; /proc/self/exe is always right */
	const char *path = di.dli_fbase == (void *)_r_debug.r_map->l_addr || !di.dli_fname[0]
				   ? "/proc/self/exe" : di.dli_fname;
	if (symtab_lookup(path, off, out, n) == 0)
		return;
	if (di.dli_sname)
		snprintf(out, n, "%s", di.dli_sname);
	else
		snprintf(out, n, "%s+%#lx", di.dli_fname, (unsigned long)off);
}
