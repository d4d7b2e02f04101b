// std::ios_base_library_init, which GCC 13's <iostream> makes every object file reference (at version
// GLIBCXX_3.4.32) so that the library is sure to set up the standard streams first. Debian 12's libstdc++
// (GCC 12) lacks it; there an ios_base::Init object does that job, so defining the function to hold one is
// the whole fix. scripts/setup.sh builds this into a library that the patched libLibTorchSharp.so needs.
#include <ios>

namespace std
{
void ios_base_library_init()
{
    static ios_base::Init streams;
}
}
