/* mn_tls_aarch64.S: the thread-local lookups a G makes before it has entered the runtime,
 * in the section mn_nopreempt that the SIGURG handler refuses to interrupt; see
 * mn_tls_x86_64.S for why they are in assembly. */
#if defined(__aarch64__)
	.section mn_nopreempt,"ax",%progbits

	.globl mn__getm
	.hidden mn__getm
	.type mn__getm, %function
mn__getm:
	mrs x1, tpidr_el0
	adrp x0, :gottprel:mn_tls_m
	ldr x0, [x0, #:gottprel_lo12:mn_tls_m]
	ldr x0, [x1, x0]
	ret
	.size mn__getm, .-mn__getm

	.globl mn__getg
	.hidden mn__getg
	.type mn__getg, %function
mn__getg:
	mrs x1, tpidr_el0
	adrp x0, :gottprel:mn_tls_m
	ldr x0, [x0, #:gottprel_lo12:mn_tls_m]
	ldr x0, [x1, x0]
	cbz x0, 1f
	ldr x0, [x0]
1:	ret
	.size mn__getg, .-mn__getg

	.globl mn__setm
	.hidden mn__setm
	.type mn__setm, %function
mn__setm:
	mrs x1, tpidr_el0
	adrp x2, :gottprel:mn_tls_m
	ldr x2, [x2, #:gottprel_lo12:mn_tls_m]
	str x0, [x1, x2]
	ret
	.size mn__setm, .-mn__setm

	.globl mn__errno
	.hidden mn__errno
	.type mn__errno, %function
mn__errno:
	b __errno_location
	.size mn__errno, .-mn__errno
#endif
	.section .note.GNU-stack,"",%progbits
