// The compiled module `vecclust._core`. Each area binds itself from its own file.
#include <pybind11/pybind11.h>

#include <string>

#include "vecclust/cpu/isa.hpp"

namespace vecclust_bindings {
void bind_kmedoids(pybind11::module_& m);
void bind_kmeans(pybind11::module_& m);
void bind_ppp(pybind11::module_& m);
void bind_index(pybind11::module_& m);
void bind_mixture(pybind11::module_& m);
void bind_silhouette(pybind11::module_& m);
}

PYBIND11_MODULE(_core, m) {
    m.doc() = "vecclust's compiled core (private; use the vecclust package).";
    m.attr("__version__") = VECCLUST_VERSION;
    vecclust_bindings::bind_kmedoids(m);
    vecclust_bindings::bind_kmeans(m);
    vecclust_bindings::bind_ppp(m);
    vecclust_bindings::bind_index(m);
    vecclust_bindings::bind_mixture(m);
    vecclust_bindings::bind_silhouette(m);

    // The instruction set of the hand-vectorised kernels; every level gives the same results.
    static const char* const kLevels[] = {"baseline", "avx2", "avx512"};
    m.def("isa_level", [] { return std::string(kLevels[static_cast<int>(vecclust::isa::current())]); },
          "The instruction set the kernels use now: 'baseline', 'avx2' or 'avx512'.");
    m.def(
        "set_isa_limit",
        [](const std::string& name) {
            for (int level = 0; level < 3; ++level)
                if (name == kLevels[level]) return vecclust::isa::limit().store(level);
            throw pybind11::value_error("unknown instruction set '" + name + "' (use 'baseline', 'avx2' or 'avx512')");
        },
        pybind11::arg("level"), "Caps the instruction set of the kernels (for tests); 'avx512' lifts the cap.");
}
