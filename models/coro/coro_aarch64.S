/* coro_aarch64.S: the context switch for AArch64 (AAPCS64). Only callee-saved state is
 * kept: x19-x29, the link register x30, sp and the low halves of v8-v15 (d8-d15). */
#if defined(__aarch64__)
	.text
	.globl coro__swap
	.type coro__swap, %function
	.hidden coro__swap
/* void coro__swap(void **save_sp, void *new_sp) */
coro__swap:
	sub sp, sp, #176
	stp x19, x20, [sp, #0]
	stp x21, x22, [sp, #16]
	stp x23, x24, [sp, #32]
	stp x25, x26, [sp, #48]
	stp x27, x28, [sp, #64]
	stp x29, x30, [sp, #80]
	stp d8, d9, [sp, #96]
	stp d10, d11, [sp, #112]
	stp d12, d13, [sp, #128]
	stp d14, d15, [sp, #144]
	mov x9, sp
	str x9, [x0]
	mov sp, x1
	ldp x19, x20, [sp, #0]
	ldp x21, x22, [sp, #16]
	ldp x23, x24, [sp, #32]
	ldp x25, x26, [sp, #48]
	ldp x27, x28, [sp, #64]
	ldp x29, x30, [sp, #80]
	ldp d8, d9, [sp, #96]
	ldp d10, d11, [sp, #112]
	ldp d12, d13, [sp, #128]
	ldp d14, d15, [sp, #144]
	add sp, sp, #176
	ret
	.size coro__swap, .-coro__swap

/* First frame of every coroutine: coro_init stores the coro pointer in the x19 slot and
 * this address in the x30 slot, so the first coro__swap "returns" here. */
	.globl coro__trampoline
	.type coro__trampoline, %function
	.hidden coro__trampoline
coro__trampoline:
	mov x29, #0
	mov x0, x19
	bl coro__start
	brk #0
	.size coro__trampoline, .-coro__trampoline
#endif
	.section .note.GNU-stack,"",%progbits
