/* Wine 8 (Debian 12's) has no bcryptprimitives.dll, whose ProcessPrng Rust's standard library
 * takes its random numbers from on Windows 10 and later. This stand-in, installed into the
 * test's Wine prefix only (scripts/wine-setup), answers it from RtlGenRandom (advapi32's
 * SystemFunction036), which Wine has. Nothing of it ships. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
