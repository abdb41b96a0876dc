/*
 * A library for test_symbols: functions whose bytes are fixed (written in
 * assembly, whatever the compiler's flags), so that a test can change a
 * known byte and know the instructions before and after. x86-64 only.
 *
 *   psym_target:  +0  55                push rbp
 *                 +1  b8 78 56 34 12    mov eax, 0x12345678
 *                 +6  01 f8             add eax, edi
 *                 +8  0f 1f 44 00 00    nop dword ptr [rax + rax]
 *                 +13 5d                pop rbp
 *                 +14 c3                ret
 *   psym_hook:    +0  b8 2a 00 00 00    mov eax, 0x2a
 *                 +5  c3                ret
 */
__asm__(".text\n"
        ".p2align 6\n"
        ".globl psym_target\n"
        ".type psym_target, @function\n"
        "psym_target:\n"
        ".byte 0x55, 0xb8, 0x78, 0x56, 0x34, 0x12, 0x01, 0xf8, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0x5d, 0xc3\n"
        ".size psym_target, . - psym_target\n"
        ".p2align 6\n"
        ".globl psym_hook\n"
        ".type psym_hook, @function\n"
        "psym_hook:\n"
        ".byte 0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3\n"
        ".size psym_hook, . - psym_hook\n");
