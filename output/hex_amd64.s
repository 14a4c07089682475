//go:build amd64 && !purego

// Code for hex_amd64.go: lowercase hex of 16-byte blocks with SSE2
// (hexSSE2) and, spaced ("31 32 "), with SSSE3's PSHUFB (hexSpacedSSSE3).
// Each block: the high and low nibbles of its bytes are split (PSRLW,
// PAND), interleaved into digit order (PUNPCKLBW, PUNPCKHBW) and made
// '0'-'9' or 'a'-'f' (add '0', and 39 more where the nibble is above 9);
// the spaced form then places each digit pair and a space with PSHUFB.

#include "textflag.h"

DATA hexNibble<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA hexNibble<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL hexNibble<>(SB), RODATA|NOPTR, $16

DATA hexZero<>+0(SB)/8, $0x3030303030303030
DATA hexZero<>+8(SB)/8, $0x3030303030303030
GLOBL hexZero<>(SB), RODATA|NOPTR, $16

DATA hexNine<>+0(SB)/8, $0x0909090909090909
DATA hexNine<>+8(SB)/8, $0x0909090909090909
GLOBL hexNine<>(SB), RODATA|NOPTR, $16

DATA hexLetter<>+0(SB)/8, $0x2727272727272727
DATA hexLetter<>+8(SB)/8, $0x2727272727272727
GLOBL hexLetter<>(SB), RODATA|NOPTR, $16

DATA hexShuf0<>+0(SB)/8, $0x0504800302800100
DATA hexShuf0<>+8(SB)/8, $0x0a80090880070680
GLOBL hexShuf0<>(SB), RODATA|NOPTR, $16

DATA hexShuf1<>+0(SB)/8, $0x800f0e800d0c800b
DATA hexShuf1<>+8(SB)/8, $0x8080808080808080
GLOBL hexShuf1<>(SB), RODATA|NOPTR, $16

DATA hexShuf2<>+0(SB)/8, $0x8080808080808080
DATA hexShuf2<>+8(SB)/8, $0x0504800302800100
GLOBL hexShuf2<>(SB), RODATA|NOPTR, $16

DATA hexShuf3<>+0(SB)/8, $0x0a80090880070680
DATA hexShuf3<>+8(SB)/8, $0x800f0e800d0c800b
GLOBL hexShuf3<>(SB), RODATA|NOPTR, $16

DATA hexSpace0<>+0(SB)/8, $0x0000200000200000
DATA hexSpace0<>+8(SB)/8, $0x0020000020000020
GLOBL hexSpace0<>(SB), RODATA|NOPTR, $16

DATA hexSpace1<>+0(SB)/8, $0x2000002000002000
DATA hexSpace1<>+8(SB)/8, $0x0000200000200000
GLOBL hexSpace1<>(SB), RODATA|NOPTR, $16

DATA hexSpace2<>+0(SB)/8, $0x0020000020000020
DATA hexSpace2<>+8(SB)/8, $0x2000002000002000
GLOBL hexSpace2<>(SB), RODATA|NOPTR, $16

// DIGITS converts the nibbles in R (0 to 15 each) to hex digits, with T
// as scratch.
#define DIGITS(R, T) \
	MOVO    R, T   \
	PCMPGTB X5, T  \
	PAND    X4, T  \
	PADDB   X6, R  \
	PADDB   T, R

// SPLIT loads 16 bytes from SI and leaves their 32 digits in X2 (bytes 0
// to 7) and X1 (bytes 8 to 15).
#define SPLIT \
	MOVOU     (SI), X0 \
	MOVO      X0, X1   \
	PSRLW     $4, X1   \
	PAND      X7, X1   \
	PAND      X7, X0   \
	MOVO      X1, X2   \
	PUNPCKLBW X0, X2   \
	PUNPCKHBW X0, X1   \
	DIGITS(X2, X3)     \
	DIGITS(X1, X3)

#define CONSTS \
	MOVOU hexNibble<>(SB), X7 \
	MOVOU hexZero<>(SB), X6   \
	MOVOU hexNine<>(SB), X5   \
	MOVOU hexLetter<>(SB), X4

// func hexSSE2(dst, src *byte, n int)
TEXT ·hexSSE2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	CONSTS

hexLoop:
	SPLIT
	MOVOU X2, (DI)
	MOVOU X1, 16(DI)
	ADDQ  $16, SI
	ADDQ  $32, DI
	SUBQ  $16, CX
	JNZ   hexLoop
	RET

// func hexSpacedSSSE3(dst, src *byte, n int)
TEXT ·hexSpacedSSSE3(SB), NOSPLIT, $0-24
	MOVQ  dst+0(FP), DI
	MOVQ  src+8(FP), SI
	MOVQ  n+16(FP), CX
	CONSTS
	MOVOU hexShuf0<>(SB), X8
	MOVOU hexShuf1<>(SB), X9
	MOVOU hexShuf2<>(SB), X10
	MOVOU hexShuf3<>(SB), X11
	MOVOU hexSpace0<>(SB), X12
	MOVOU hexSpace1<>(SB), X13
	MOVOU hexSpace2<>(SB), X14

spacedLoop:
	SPLIT
	MOVO   X2, X0
	PSHUFB X8, X0
	POR    X12, X0
	MOVOU  X0, (DI)
	MOVO   X2, X0
	PSHUFB X9, X0
	MOVO   X1, X3
	PSHUFB X10, X3
	POR    X3, X0
	POR    X13, X0
	MOVOU  X0, 16(DI)
	PSHUFB X11, X1
	POR    X14, X1
	MOVOU  X1, 32(DI)
	ADDQ   $16, SI
	ADDQ   $48, DI
	SUBQ   $16, CX
	JNZ    spacedLoop
	RET

// The plain bytes of AppendQuoted (printable ASCII but '"' and '\\'),
// 16 at a time: a byte is plain when it is above 0x1f as a signed byte
// (which leaves out 0x80 to 0xff too), not 0x7f, '"' nor '\\'.

DATA quoteLow<>+0(SB)/8, $0x1f1f1f1f1f1f1f1f
DATA quoteLow<>+8(SB)/8, $0x1f1f1f1f1f1f1f1f
GLOBL quoteLow<>(SB), RODATA|NOPTR, $16

DATA quoteDel<>+0(SB)/8, $0x7f7f7f7f7f7f7f7f
DATA quoteDel<>+8(SB)/8, $0x7f7f7f7f7f7f7f7f
GLOBL quoteDel<>(SB), RODATA|NOPTR, $16

DATA quoteQuote<>+0(SB)/8, $0x2222222222222222
DATA quoteQuote<>+8(SB)/8, $0x2222222222222222
GLOBL quoteQuote<>(SB), RODATA|NOPTR, $16

DATA quoteBackslash<>+0(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA quoteBackslash<>+8(SB)/8, $0x5c5c5c5c5c5c5c5c
GLOBL quoteBackslash<>(SB), RODATA|NOPTR, $16

// func quotePlainSSE2(dst, src *byte, n int) int
TEXT ·quotePlainSSE2(SB), NOSPLIT, $0-32
	MOVQ  dst+0(FP), DI
	MOVQ  src+8(FP), SI
	MOVQ  n+16(FP), CX
	MOVOU quoteLow<>(SB), X7
	MOVOU quoteDel<>(SB), X6
	MOVOU quoteQuote<>(SB), X5
	MOVOU quoteBackslash<>(SB), X4
	XORQ  AX, AX

quoteLoop:
	MOVOU    (SI)(AX*1), X0
	MOVO     X0, X1
	PCMPGTB  X7, X1      // 0xff where above 0x1f (signed)
	MOVO     X0, X2
	PCMPEQB  X6, X2      // 0xff at 0x7f
	MOVO     X0, X3
	PCMPEQB  X5, X3      // at '"'
	POR      X3, X2
	MOVO     X0, X3
	PCMPEQB  X4, X3      // at '\\'
	POR      X3, X2
	PANDN    X1, X2      // 0xff where plain
	PMOVMSKB X2, BX
	CMPL     BX, $0xffff
	JNE      quoteDone
	MOVOU    X0, (DI)(AX*1)
	ADDQ     $16, AX
	CMPQ     AX, CX
	JB       quoteLoop

quoteDone:
	MOVQ AX, ret+24(FP)
	RET
