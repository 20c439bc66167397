/* Wine 8.0 (Debian 12) lacks bcryptprimitives.dll, which Rust's standard library calls for
   random bytes (ProcessPrng, Windows 10 and later). A stand-in for testing under Wine only. */
#include <windows.h>
#include <ntsecapi.h>
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, n)) return FALSE;
        data += n; len -= n;
    }
    return TRUE;
}
