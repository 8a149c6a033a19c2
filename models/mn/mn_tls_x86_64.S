/* mn_tls_x86_64.S: the thread-local lookups a G makes before it has entered the runtime
 * (g->in_rt still 0), written here so that no compiler can inline them into preemptible
 * text (clang ignores noipa), and placed in the section mn_nopreempt, which the SIGURG
 * handler refuses to interrupt (models/mn/mn_preempt.c, "Async preemption safety"). Each
 * reads the thread pointer and mn_tls_m in one uninterruptible stretch: preempted between
 * the two, a G could resume on another thread holding the old thread's M. */
#if defined(__x86_64__)
/* MN_TLS_M(reg): this thread's M into reg. In an executable (PIE or not) mn_tls_m sits at a
 * fixed offset from %fs, one load as compiled C does (local-exec); in a shared object the
 * offset comes from the GOT (initial-exec), one instruction more on every lookup. */
#if defined(__PIC__) && !defined(__PIE__)
#define MN_TLS_M(reg) movq mn_tls_m@gottpoff(%rip), reg; movq %fs:(reg), reg
#else
#define MN_TLS_M(reg) movq %fs:mn_tls_m@tpoff, reg
#endif
	.section mn_nopreempt,"ax",@progbits

/* mn_m *mn__getm(void): this thread's M, or NULL. */
	.globl mn__getm
	.hidden mn__getm
	.type mn__getm, @function
mn__getm:
	.cfi_startproc
	MN_TLS_M(%rax)
	ret
	.cfi_endproc
	.size mn__getm, .-mn__getm

/* mn_g *mn__getg(void): the G running on this thread (m->curg, the M's first field), or
 * NULL outside a run. */
	.globl mn__getg
	.hidden mn__getg
	.type mn__getg, @function
mn__getg:
	.cfi_startproc
	MN_TLS_M(%rax)
	testq %rax, %rax
	jz 1f
	movq (%rax), %rax
1:	ret
	.cfi_endproc
	.size mn__getg, .-mn__getg

/* void mn__setm(mn_m *m): make m this thread's M (g0 only, at an M's start and a run's end). */
	.globl mn__setm
	.hidden mn__setm
	.type mn__setm, @function
mn__setm:
	.cfi_startproc
#if defined(__PIC__) && !defined(__PIE__)
	movq mn_tls_m@gottpoff(%rip), %rax
	movq %rdi, %fs:(%rax)
#else
	movq %rdi, %fs:mn_tls_m@tpoff
#endif
	ret
	.cfi_endproc
	.size mn__setm, .-mn__setm

/* int *mn__errno(void): this thread's errno. An ordinary call the compiler must repeat
 * after every switch: glibc declares __errno_location const, so a C wrapper inlined into
 * its caller would let the address be reused on another thread. */
	.globl mn__errno
	.hidden mn__errno
	.type mn__errno, @function
mn__errno:
	.cfi_startproc
	jmp __errno_location@PLT
	.cfi_endproc
	.size mn__errno, .-mn__errno
#endif
	.section .note.GNU-stack,"",@progbits
