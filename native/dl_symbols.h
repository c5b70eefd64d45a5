// dl_symbols.h — the functions of a library loaded at run time (the CUDA backend, Open MPI, NCCL): each symbol into
// its function pointer, and the names not found collected, so that one error names every missing symbol.
#pragma once
#include <dlfcn.h>
#include <string>

namespace a4j {

template <typename F> bool resolve_symbol(void* handle, const char* name, F& fn, std::string& missing) {
    fn = reinterpret_cast<F>(dlsym(handle, name));
    if (fn == nullptr) missing += std::string(missing.empty() ? "" : ", ") + name;
    return fn != nullptr;
}

}  // namespace a4j
