// fiber_jump.cc - the register switch between two fibers: Boost.Context's jump_fcontext()
// contract, ending in `ret` instead of an indirect `jmp`.
//
// Boost 1.74's x86-64 jump_fcontext() pops the resume address and jumps to it. The call
// into it pushed a return-stack-buffer entry that no `ret` consumes, so after every switch
// the CPU's return predictions in the resumed fiber are off by one frame, and each return
// up its stack mispredicts. Under the explorer's random walk a fiber switch comes at
// about every other scheduling point; ending the jump with `ret` made an ext4-bug
// schedule ~9% cheaper (docs/scale-out.md). Everything else is Boost's: the frame
// make_fcontext() builds (and fiber_jump() therefore accepts), the saved registers, and
// the MXCSR and x87 control words that travel with each fiber. Those two are loaded only
// when the resumed fiber's differ from the ones just saved (loading them stalls the
// pipeline; they almost never differ), which keeps the guarantee and costs a compare.
//
// Threading: called by the one host thread that runs the fibers (sim/fiber.cc).
#include "sim/fiber_jump.h"

#if !defined(__x86_64__)
#error "fiber_jump: x86-64 only (as the rest of the sim backend's Boost.Context use)"
#endif

// Frame at a suspended context (as make_fcontext() lays out a fresh one):
//   0x00 MXCSR, 0x04 x87 control word, 0x08 r12, 0x10 r13, 0x18 r14, 0x20 r15,
//   0x28 rbx, 0x30 rbp, 0x38 where to resume.
// In: rdi = the context to resume, rsi = data. Out, in the resumed context: the
// transfer_t {the context just left, data} in rax:rdx, and in rdi:rsi for a fresh
// context's entry function.
asm(R"(
  .text
  .globl guplab_fiber_jump
  .type guplab_fiber_jump, @function
  .p2align 4
guplab_fiber_jump:
  leaq  -0x38(%rsp), %rsp
  stmxcsr (%rsp)
  fnstcw 0x4(%rsp)
  movq  %r12, 0x08(%rsp)
  movq  %r13, 0x10(%rsp)
  movq  %r14, 0x18(%rsp)
  movq  %r15, 0x20(%rsp)
  movq  %rbx, 0x28(%rsp)
  movq  %rbp, 0x30(%rsp)
  movq  %rsp, %rax
  movq  %rdi, %rsp
  movl  (%rsp), %ecx
  cmpl  (%rax), %ecx
  je    1f
  ldmxcsr (%rsp)
1:
  movzwl 0x4(%rsp), %ecx
  cmpw  0x4(%rax), %cx
  je    2f
  fldcw 0x4(%rsp)
2:
  movq  0x08(%rsp), %r12
  movq  0x10(%rsp), %r13
  movq  0x18(%rsp), %r14
  movq  0x20(%rsp), %r15
  movq  0x28(%rsp), %rbx
  movq  0x30(%rsp), %rbp
  leaq  0x38(%rsp), %rsp
  movq  %rsi, %rdx
  movq  %rax, %rdi
  ret
  .size guplab_fiber_jump, .-guplab_fiber_jump
  .section .note.GNU-stack, "", @progbits
)");
