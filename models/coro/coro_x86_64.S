/* coro_x86_64.S: the context switch for x86-64 System V. Only what the ABI makes
 * callee-saved is kept (rbx, rbp, r12-r15 and the stack pointer); the caller of
 * coro__swap has already spilled everything else. MXCSR and the x87 control word are
 * left alone: no task changes rounding modes, and saving them would cost more than the
 * switch itself (Go does not save them either). */
#if defined(__x86_64__)
	.text
	.globl coro__swap
	.type coro__swap, @function
	.hidden coro__swap
/* void coro__swap(void **save_sp, void *new_sp) */
coro__swap:
	.cfi_startproc
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
	.cfi_endproc
	.size coro__swap, .-coro__swap

/* First frame of every coroutine: coro_init leaves the coro pointer in rbx, so the
 * registers popped by the first coro__swap land here with it. The stack is 16-byte
 * aligned at the call as the ABI wants; coro__start never returns. */
	.globl coro__trampoline
	.type coro__trampoline, @function
	.hidden coro__trampoline
coro__trampoline:
	.cfi_startproc
	.cfi_undefined rip
	movq %rbx, %rdi
	call coro__start
	ud2
	.cfi_endproc
	.size coro__trampoline, .-coro__trampoline
#endif
	.section .note.GNU-stack,"",@progbits
