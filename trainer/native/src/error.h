// One error path for the whole shim: every exported function body runs inside G2T_GUARD, which
// catches every C++ exception, keeps its message in a thread-local string and returns a failure value.
#pragma once
#include <exception>
#include <string>
#include <c10/util/Exception.h>

namespace g2t {
void set_last_error(std::string message);
void clear_last_error();
}

#define G2T_GUARD(failure, ...)                                           \
  try {                                                                   \
    g2t::clear_last_error();                                              \
    __VA_ARGS__                                                           \
  } catch (const c10::Error& e) {                                         \
    g2t::set_last_error(e.what_without_backtrace());                      \
    return failure;                                                       \
  } catch (const std::exception& e) {                                     \
    g2t::set_last_error(e.what());                                        \
    return failure;                                                       \
  } catch (...) {                                                         \
    g2t::set_last_error("unknown C++ exception in libtorch");             \
    return failure;                                                       \
  }
