/* A DLL whose only export is a variable: psum_target.exe refers to it without dllimport (a pseudo-relocation). */
__declspec(dllexport) int psum_shared_value = 4242;
