/* A small DLL that test_detect and test_backend load and unload in a loop. */
#include <windows.h>

__declspec(dllexport) int psum_loop_value(int x);

int psum_loop_value(int x)
{
    return x * 3 + 1;
}
