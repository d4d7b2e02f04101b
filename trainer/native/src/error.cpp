#include "error.h"
#include "shim.h"

namespace {
// Lives as long as the thread; overwritten by the next failure, so nothing is ever leaked and
// the caller never frees it.
thread_local std::string last_error;
thread_local bool has_error = false;
}

namespace g2t {
void set_last_error(std::string message) {
  last_error = std::move(message);
  has_error = true;
}
void clear_last_error() { has_error = false; }
}

// The message of this thread's last failed call, or NULL when the last call succeeded. Valid until
// the next shim call on the same thread.
G2T_API const char* g2t_last_error() { return has_error ? last_error.c_str() : nullptr; }
